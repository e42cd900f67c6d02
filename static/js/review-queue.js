// The review queue's keys (templates/compare/review_queue.html): 1-9 pick the winner, T tie,
// B all bad, U/D thumb up/down on the focused image, C comment, ← → move between the images,
// N/P the older/newer comparison. Every key only presses a button or link that is on the page,
// so without this script the same forms work by mouse or Tab.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue) {
    return;
  }
  var candidates = Array.prototype.slice.call(queue.querySelectorAll("[data-candidate]"));

  function focused() {
    var here = document.activeElement && document.activeElement.closest && document.activeElement.closest("[data-candidate]");
    return here || candidates[0];
  }

  function move(step) {
    if (!candidates.length) {
      return;
    }
    var index = candidates.indexOf(focused());
    var next = candidates[(Math.max(index, 0) + step + candidates.length) % candidates.length];
    next.focus();
  }

  function press(element) {
    if (element) {
      element.click();
    }
  }

  // Back from a thumb: focus the image it was given to (the address ends #result-ID).
  var target = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (target && target.hasAttribute("data-candidate")) {
    target.focus();
  } else if (candidates.length) {
    candidates[0].focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var typing = event.target.closest && event.target.closest("input, textarea, select");
    if (typing) {
      if (event.key === "Escape") {
        event.target.blur();
        focused().focus();
      }
      return;
    }
    var viewer = document.getElementById("viewer");
    if (viewer && viewer.open) {
      return; // the full-size viewer has its own keys
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (/^[1-9]$/.test(key)) {
      press(queue.querySelector('[data-pick="' + key + '"]'));
    } else if (key === "t" || key === "b" || key === "n" || key === "p") {
      press(queue.querySelector('[data-key="' + key + '"]'));
    } else if (key === "u" || key === "d") {
      var card = focused();
      press(card && card.querySelector('[data-thumb="' + (key === "u" ? "up" : "down") + '"]'));
    } else if (key === "c") {
      document.getElementById("comment-text").focus();
    } else if (key === "ArrowRight" || key === "ArrowLeft") {
      move(key === "ArrowRight" ? 1 : -1);
    } else {
      return;
    }
    event.preventDefault();
  });
})();
