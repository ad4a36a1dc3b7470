// caseledger's only script (no inline script anywhere: the pages' CSP forbids it).
// A "Печать" button prints the page.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-print]");
  if (b) {
    e.preventDefault();
    window.print();
  }
});

// /reports: a report or bundle to check is sent as the file's own bytes (no multipart),
// with the form's CSRF token; the verdict (HTML made by the server) is shown below it.
document.addEventListener("submit", function (e) {
  var form = e.target.closest("#verify-upload");
  if (!form) return;
  e.preventDefault();
  var input = form.querySelector("input[type=file]");
  var out = document.getElementById("verify-result");
  if (!input.files.length) {
    out.textContent = "Выберите файл.";
    return;
  }
  out.textContent = "Проверяется…";
  fetch(form.action, {
    method: "POST",
    headers: { "X-CSRF-Token": form.dataset.csrf, "Content-Type": "application/octet-stream" },
    body: input.files[0],
    credentials: "same-origin",
  })
    .then(function (r) { return r.text(); })
    .then(function (html) { out.innerHTML = html; })
    .catch(function (err) { out.textContent = "Не удалось отправить файл: " + err; });
});

// /import: the table's bytes are sent as they are (no multipart), the form's other
// fields in the query, with the form's CSRF token; the preview (HTML made by the
// server: events, refusals, the confirmation button) is shown below it.
document.addEventListener("submit", function (e) {
  var form = e.target.closest("#import-upload");
  if (!form) return;
  e.preventDefault();
  var input = form.querySelector("input[type=file]");
  var out = document.getElementById("import-result");
  if (!input.files.length) {
    out.textContent = "Выберите файл.";
    return;
  }
  var q = new URLSearchParams();
  ["name", "outcome", "stable"].forEach(function (n) { q.set(n, form.elements[n].value); });
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
