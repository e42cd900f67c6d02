// Small behaviours of every page, kept out of inline handlers so that the Content-Security-Policy
// can refuse all inline script: a <select data-autosubmit> submits its form when changed (the team
// switcher), and an <input data-select-on-focus> selects its text (share links, to copy).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  });
  document.addEventListener("focusin", function (event) {
    var input = event.target.closest && event.target.closest("input[data-select-on-focus]");
    if (input) input.select();
  });
})();
