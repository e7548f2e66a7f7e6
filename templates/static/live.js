// Served as a file, not inline: the pages' Content-Security-Policy runs no inline script.
// Short polling of a cheap stamp; when it changes, the live part of the page is fetched
// again and swapped in (not while someone is typing in it).
(function () {
  var key = document.currentScript.getAttribute("data-live-key");
  var url = "/live/version" + (key ? "?directive=" + encodeURIComponent(key) : "");
  var seen = null;
  function refresh() {
    fetch(location.href, {credentials: "same-origin"}).then(function (r) { return r.text(); }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
      var here = document.getElementById("live");
      if (!fresh || !here) return;
      if (here.contains(document.activeElement) && document.activeElement.tagName !== "BODY" && document.activeElement.tagName !== "A" && document.activeElement.tagName !== "BUTTON") return;
      here.innerHTML = fresh.innerHTML;
      here.setAttribute("data-version", seen);
    });
  }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; }).then(function (body) {
      if (!body) return;
      if (seen !== null && body.version !== seen) { seen = body.version; refresh(); }
      seen = body.version;
    }).catch(function () {}).finally(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
