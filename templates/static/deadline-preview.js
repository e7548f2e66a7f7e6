// Served as a file, not inline: the pages' Content-Security-Policy runs no inline script.
(function () {
  var days = document.getElementById("due_in_working_days"), out = document.getElementById("deadline-preview");
  function preview() {
    var n = parseInt(days.value, 10);
    if (!(n >= 1 && n <= 365)) { out.textContent = "—"; return; }
    fetch("/directives/deadline-preview?working_days=" + n, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (body) { out.textContent = body[document.documentElement.lang === "en" ? "en" : "vi"]; });
  }
  days.addEventListener("input", preview);
})();
