// caseledger's only script (no inline script anywhere: the pages' CSP forbids it).
// A "Печать" button prints the page.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-print]");
  if (b) {
    e.preventDefault();
    window.print();
  }
});
