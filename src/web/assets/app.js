// caseledger's only script (no inline script anywhere: the pages' CSP forbids it).
// A "Печать" button prints the page.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-print]");
  if (b) {
    e.preventDefault();
    window.print();
  }
});

// A form with data-upload (/reports: a report or bundle to check; /import: a table) is
// sent as the chosen file's own bytes (no multipart), its other fields in the query
// string, with the form's CSRF token; the answer (HTML made by the server) is shown in
// the element data-result names.
document.addEventListener("submit", function (e) {
  var form = e.target.closest("form[data-upload]");
  if (!form) return;
  e.preventDefault();
  var input = form.querySelector("input[type=file]");
  var out = document.getElementById(form.dataset.result);
  if (!input.files.length) {
    out.textContent = "Выберите файл.";
    return;
  }
  var q = new URLSearchParams();
  Array.prototype.forEach.call(form.elements, function (el) {
    if (!el.name || el.type === "file" || el.type === "submit") return;
    if (el.type === "checkbox" && !el.checked) return;
    q.set(el.name, el.value);
  });
  q.set("file", input.files[0].name);
  out.textContent = "Проверяется…";
  fetch(form.action + "?" + q.toString(), {
    method: "POST",
    headers: { "X-CSRF-Token": form.dataset.csrf, "Content-Type": "application/octet-stream" },
    body: input.files[0],
    credentials: "same-origin",
  })
    .then(function (r) { return r.text(); })
    .then(function (html) { out.innerHTML = html; })
    .catch(function (err) { out.textContent = "Не удалось отправить файл: " + err; });
});

// After a refusal the keyboard is put where the fix goes: the first field marked
// invalid (SPEC §21), else the first message.
document.addEventListener("DOMContentLoaded", function () {
  var bad = document.querySelector("main [aria-invalid=true]");
  if (bad) {
    bad.focus();
    return;
  }
  var said = document.querySelector("main form p.error[role=alert], main p.error[role=alert]");
  if (said) {
    said.setAttribute("tabindex", "-1");
    said.focus();
  }
});
