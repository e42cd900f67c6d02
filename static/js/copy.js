// Small page helpers (templates/base.html): a "Copy" button beside any field or code marked
// data-copy="ID" (or an empty data-copy: the element just before it) copies its text and says so; a <details> the address points to (#share) opens,
// so a panel stays open after its form came back.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = button.dataset.copy ? document.getElementById(button.dataset.copy) : button.previousElementSibling;
      var text = source && ("value" in source ? source.value : source.textContent);
      var said = button.textContent;
      var done = function (ok) {
        button.textContent = ok ? "Copied" : "Select and copy";
        if (!ok && source && source.select) {
          source.select();
        }
        window.setTimeout(function () { button.textContent = said; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      } else {
        done(false);
      }
    });
  });
  var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (target && target.tagName === "DETAILS") {
    target.open = true;
  }
})();
