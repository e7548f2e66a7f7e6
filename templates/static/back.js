// "Back" on an error page returns to the page before it when there is one (an inline
// javascript: link would be refused by the pages' Content-Security-Policy).
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a[data-back]");
  if (link && history.length > 1) { event.preventDefault(); history.back(); }
});
