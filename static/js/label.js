// The label page's Print button (the script is deferred, so the page is parsed); the print
// stylesheet leaves only the label on the page.
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
