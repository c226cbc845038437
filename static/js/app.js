// Scanner-friendly inputs: a field that comes back holding the last scan is selected, so the
// next scan (typed by the scanner, then Enter) replaces it instead of being appended.
document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("input[data-scan]")) {
    if (field.value && document.activeElement === field) field.select();
    field.addEventListener("focus", () => field.select());
  }
});

// Tables with a "select all" box in their header tick or clear every box of that column on the
// page; the boxes belong to a form below the table (their `form` attribute).
document.addEventListener("change", (event) => {
  const all = event.target.closest("input[data-select-all]");
  if (!all) return;
  const table = all.closest("table");
  for (const box of table.querySelectorAll(`tbody input[name="${all.dataset.selectAll}"]`)) {
    box.checked = all.checked;
  }
});
