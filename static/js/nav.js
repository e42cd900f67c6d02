// On a narrow screen the main navigation folds behind a Menu button (templates/base.html); the
// CSS hides it only once this script has shown the button, so without JavaScript it stays open.
(function () {
  "use strict";
  var button = document.querySelector(".menu-toggle");
  var nav = document.getElementById("site-nav");
  if (!button || !nav) {
    return;
  }
  button.hidden = false;
  document.documentElement.classList.add("nav-folds");
  button.addEventListener("click", function () {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("open", open);
  });
})();
