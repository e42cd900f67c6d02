// The tab title follows a running comparison ("3/5 done · #12 · …", then "done · #12 · …"), so a
// user in another tab sees when it ends. The summary (templates/compare/detail.html) carries the
// text in data-title; htmx swaps the summary in every second, and we copy it after each swap.
document.addEventListener("htmx:afterSettle", function () {
  var summary = document.getElementById("summary");
  if (summary && summary.dataset.title) {
    document.title = summary.dataset.title;
  }
});
