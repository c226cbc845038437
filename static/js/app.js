// Scanner-friendly inputs: a field that comes back holding the last scan is selected, so the
// next scan (typed by the scanner, then Enter) replaces it instead of being appended.
document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("input[data-scan]")) {
    if (field.value && document.activeElement === field) field.select();
    field.addEventListener("focus", () => field.select());
  }
});
