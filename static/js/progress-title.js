// The tab title follows a running comparison ("3/5 done · #12 · …", then "done · #12 · …") or
// batch ("7/18 · Batch #3 · …"), so a user in another tab sees when it ends. The part htmx swaps
// in (the summary of templates/compare/detail.html, the matrix heading of batch_detail.html)
// carries the text in data-title; we copy it after each swap.
document.addEventListener("htmx:afterSettle", function () {
  var source = document.querySelector("[data-title]");
  if (source && source.dataset.title) {
    document.title = source.dataset.title;
  }
});

// Once the comparison is done (the summary's HX-Trigger), nothing is left to cancel. Removed here
// rather than by an out-of-band swap, which logs an error when a second answer finds it gone.
document.addEventListener("comparison-done", function () {
  var cancel = document.getElementById("cancel-action");
  if (cancel) {
    cancel.remove();
  }
});
