// Full-size viewer for result images (the <dialog id="viewer"> of templates/compare/detail.html).
// A click on a thumbnail link marked data-viewer opens its original; ← and → step through every
// image on the page in card order, Escape closes (the dialog's own behaviour), "Real size" shows
// one image pixel per screen pixel. Without this script the link opens the original in a new tab.
(function () {
  "use strict";
  var dialog = document.getElementById("viewer");
  if (!dialog || typeof dialog.showModal !== "function") {
    return;
  }
  var image = document.getElementById("viewer-image");
  var caption = document.getElementById("viewer-caption");
  var facts = document.getElementById("viewer-facts");
  var download = dialog.querySelector("[data-viewer-download]");
  var actual = dialog.querySelector("[data-viewer-actual]");
  var position = 0;

  function links() {
    return Array.prototype.slice.call(document.querySelectorAll("a[data-viewer]"));
  }

  function show(index) {
    var all = links();
    if (all.length === 0) {
      dialog.close();
      return;
    }
    position = (index + all.length) % all.length;
    var link = all[position];
    image.src = link.href;
    image.alt = link.dataset.caption;
    caption.textContent = link.dataset.caption + " (" + (position + 1) + " of " + all.length + ")";
    facts.textContent = link.dataset.facts;
    download.href = link.href;
    download.setAttribute("download", link.dataset.download || "");
  }

  function setActualSize(on) {
    dialog.classList.toggle("actual-size", on);
    actual.setAttribute("aria-pressed", on ? "true" : "false");
    // One image pixel per device pixel, whatever the screen's pixel ratio.
    image.style.width = on && image.naturalWidth ? image.naturalWidth / window.devicePixelRatio + "px" : "";
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-viewer]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return; // a modified click still opens the original in a tab
    }
    event.preventDefault();
    show(links().indexOf(link));
    if (!dialog.open) {
      dialog.showModal();
    }
  });

  dialog.addEventListener("keydown", function (event) {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      show(position + (event.key === "ArrowRight" ? 1 : -1));
    }
  });

  dialog.addEventListener("click", function (event) {
    var step = event.target.closest("[data-viewer-step]");
    if (step) {
      show(position + Number(step.dataset.viewerStep));
    } else if (event.target.closest("[data-viewer-actual]")) {
      setActualSize(!dialog.classList.contains("actual-size"));
    } else if (event.target.closest("[data-viewer-close]") || event.target === dialog) {
      dialog.close(); // the close button, or a click on the backdrop
    }
  });

  image.addEventListener("load", function () {
    setActualSize(dialog.classList.contains("actual-size")); // keep the mode, with the new image's size
  });

  dialog.addEventListener("close", function () {
    var link = links()[position];
    image.removeAttribute("src");
    if (link) {
      link.focus(); // back to the thumbnail of the image last shown
    }
  });
})();
