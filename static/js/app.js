// Dates and times in the reader's time zone: the server reads the browser's zone from this
// cookie (traceability/timezones.py), from the next page on; the sign-in page sets it first.
(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const current = document.cookie.split("; ").find((pair) => pair.startsWith("tz="));
  if (!zone || (current && decodeURIComponent(current.slice(3)) === zone)) return;
  // Zone names are letters, digits, "/", "_", "-" and "+": cookie-safe as they are.
  document.cookie = `tz=${zone}; path=/; max-age=31536000; SameSite=Lax`;
})();

// Scanner-friendly inputs: a field that comes back holding the last scan is selected, so the
// next scan (typed by the scanner, then Enter) replaces it instead of being appended.
document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("input[data-scan]")) {
    if (field.value && document.activeElement === field) field.select();
    field.addEventListener("focus", () => field.select());
  }
});

// Tables with a "select all" box in their header tick or clear every box of that column on the
// page; the boxes belong to a form below the table (their `form` attribute). Ticking rows one by
// one shows in the header box too: ticked when all are, a dash when only some are.
document.addEventListener("change", (event) => {
  const all = event.target.closest("input[data-select-all]");
  if (all) {
    const table = all.closest("table");
    for (const box of table.querySelectorAll(`tbody input[name="${all.dataset.selectAll}"]`)) {
      box.checked = all.checked;
    }
    return;
  }
  const box = event.target;
  const table = box.closest("table");
  const header = box.name && table?.querySelector(`thead input[data-select-all="${box.name}"]`);
  if (!header) return;
  const boxes = [...table.querySelectorAll(`tbody input[name="${box.name}"]`)];
  const ticked = boxes.filter((each) => each.checked).length;
  header.checked = ticked === boxes.length;
  header.indeterminate = ticked > 0 && ticked < boxes.length;
});

// On a narrow screen the main navigation scrolls sideways; start it with the current page's
// link in view rather than cut off at the right.
document.addEventListener("DOMContentLoaded", () => {
  const nav = document.querySelector(".mainnav");
  const current = nav?.querySelector('[aria-current="page"]');
  if (current && nav.scrollWidth > nav.clientWidth) {
    nav.scrollLeft = current.offsetLeft - nav.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
  }
});

// A warranty claim's coverage, as the fault's date is typed: compared with the warranty end, a
// hint only (the service decides). The page names the date field in data-date-input.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("coverage-preview");
  const unit = document.getElementById("claim-unit");
  const input = box && document.getElementById(box.dataset.dateInput);
  if (!input || !unit) return;
  const ends = unit.dataset.warrantyEnds;
  const show = () => {
    const day = input.value;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) { box.textContent = ""; return; }
    const covered = day <= ends;
    box.textContent = box.dataset[covered ? "covered" : "notCovered"].replace("{date}", day);
    box.className = `coverage ${covered ? "covered" : "not-covered"}`;
  };
  input.addEventListener("input", show);
  show();
});

// Print buttons (data-print): no inline handlers, so the Content Security Policy can forbid them.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
