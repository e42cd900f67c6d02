// Side by side (templates/compare/sidebyside.html), and picking its two images on the results page.
//
// Results page: the "Compare" boxes on the images keep at most two ticked (the oldest gives way)
// and copy them into the form's two lists; without this script the boxes and lists are a plain
// GET form all the same.
// Side-by-side page: one zoom and pan shared by both panes (wheel, pinch, drag, buttons, keys),
// the swipe divider, the onion skin and switching views without a reload.
(function () {
  "use strict";

  // --- Results page: the picker -------------------------------------------------------------
  // The picker is swapped in anew when a running comparison finishes (it then offers its two
  // lists), so its parts are looked up each time rather than kept.
  var picker = document.querySelector("[data-sbs-picker]");
  if (picker) {
    var picked = [];
    var boxes = function () {
      return Array.prototype.slice.call(document.querySelectorAll("input[name=pick][form=side-by-side]"));
    };
    var status, open, selects;
    var showPicks = function () {
      picker = document.querySelector("[data-sbs-picker]");
      if (!picker) {
        return;
      }
      status = picker.querySelector("[data-sbs-status]");
      open = picker.querySelector("[data-sbs-open]");
      selects = picker.querySelectorAll("[data-sbs-select]");
      picked = picked.filter(function (box) { return box.isConnected && box.checked; });
      picked.forEach(function (box, n) {
        if (selects[n]) {
          selects[n].value = box.value;
        }
      });
      if (picked.length === 2) {
        status.textContent = "two images picked.";
      } else if (picked.length === 1) {
        status.textContent = "one image picked: tick one more" + (selects.length ? " (or B is the list's)." : ".");
      } else {
        status.textContent = "tick “Compare” on two images" + (selects.length ? " or choose them here." : ".");
      }
      open.disabled = !selects.length && picked.length !== 2;
    };
    document.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.matches || !box.matches("input[name=pick][form=side-by-side]")) {
        return;
      }
      picked = picked.filter(function (other) { return other !== box; });
      if (box.checked) {
        picked.push(box);
        if (picked.filter(function (b) { return b.checked; }).length > 2) {
          picked[0].checked = false; // the oldest pick gives way
        }
      }
      showPicks();
    });
    document.addEventListener("htmx:afterSettle", showPicks);
    document.addEventListener("submit", function (event) {
      if (!event.target.matches("[data-sbs-picker]")) {
        return;
      }
      picked = picked.filter(function (box) { return box.isConnected && box.checked; });
      if (picked.length !== 2 && !selects.length) {
        event.preventDefault(); // nothing to open yet
      } else if (picked.length === 2 && selects.length === 2) {
        // The lists hold the picks in the order they were ticked (the first is A): let them
        // speak, rather than the boxes, which would go in page order.
        picked.forEach(function (box) { box.disabled = true; });
        window.setTimeout(function () {
          picked.forEach(function (box) { box.disabled = false; });
        }, 0);
      }
    });
    boxes().forEach(function (box) {
      if (box.checked) {
        picked.push(box); // ticked before this script ran, or kept by the browser on "back"
      }
    });
    showPicks();
  }

  // --- Side-by-side page ---------------------------------------------------------------------
  var page = document.querySelector(".sbs-page");
  if (!page) {
    return;
  }

  // Switching views without a reload; the address keeps the view, so a reload or a link keeps it.
  var views = page.querySelectorAll("[data-sbs-view]");
  var swap = page.querySelector("[data-sbs-swap]");
  var viewInput = page.querySelector(".sbs-choose input[name=view]");
  function showView(key, href) {
    page.querySelectorAll("[data-panel]").forEach(function (panel) {
      panel.hidden = panel.dataset.panel !== key;
    });
    views.forEach(function (link) {
      if (link.dataset.sbsView === key) {
        link.setAttribute("aria-current", "page");
      } else {
        link.removeAttribute("aria-current");
      }
    });
    page.dataset.view = key;
    if (viewInput) {
      viewInput.value = key;
    }
    if (swap) {
      var url = new URL(swap.href);
      if (key === "sync") {
        url.searchParams.delete("view");
      } else {
        url.searchParams.set("view", key);
      }
      swap.href = url.toString();
    }
    if (href && window.history.replaceState) {
      window.history.replaceState(null, "", href);
    }
    if (key === "sync") {
      apply();
    }
  }
  views.forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
        return;
      }
      event.preventDefault();
      showView(link.dataset.sbsView, link.href);
    });
  });
  // Choosing another image in a list shows it at once.
  page.querySelectorAll(".sbs-choose select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.requestSubmit();
    });
  });

  // Synchronised zoom and pan. The shared state is the zoom (1 = whole image fits) and the
  // point at the centre of the view, as a fraction of the image's width and height; each pane
  // turns it into its own transform, so both always show the same region of their image.
  var state = { zoom: 1, cx: 0.5, cy: 0.5 };
  var MAX_ZOOM = 64;
  var panes = Array.prototype.slice.call(page.querySelectorAll(".sbs-viewport"));
  var level = page.querySelector("[data-zoom-level]");

  function geometry(viewport) {
    var image = viewport.querySelector("img");
    var width = image.naturalWidth || Number(image.getAttribute("width"));
    var height = image.naturalHeight || Number(image.getAttribute("height"));
    var box = viewport.getBoundingClientRect();
    var fit = Math.min(box.width / width, box.height / height);
    return { image: image, width: width, height: height, box: box, scale: fit * state.zoom, fit: fit };
  }

  // From the whole image (or real size, for an image smaller than its pane) to MAX_ZOOM.
  function limitZoom(g) {
    var least = g && g.fit ? Math.min(1, 1 / (window.devicePixelRatio * g.fit)) : 1;
    state.zoom = Math.min(MAX_ZOOM, Math.max(least, state.zoom));
  }

  function clamp() {
    if (!panes.length) {
      return;
    }
    var g = geometry(panes[0]);
    if (!g.box.width || !g.box.height || !g.width || !g.height) {
      return; // hidden, or not laid out yet: nothing to keep in view
    }
    limitZoom(g);
    g = geometry(panes[0]);
    // The share of the image's width and height in view; the centre keeps the view on the image.
    var spanX = Math.min(1, g.box.width / (g.width * g.scale));
    var spanY = Math.min(1, g.box.height / (g.height * g.scale));
    state.cx = Math.min(1 - spanX / 2, Math.max(spanX / 2, state.cx));
    state.cy = Math.min(1 - spanY / 2, Math.max(spanY / 2, state.cy));
  }

  function apply() {
    clamp();
    panes.forEach(function (viewport) {
      var g = geometry(viewport);
      if (!g.box.width || !g.box.height || !g.width || !g.height) {
        return; // hidden, or not laid out yet
      }
      var x = g.box.width / 2 - state.cx * g.width * g.scale;
      var y = g.box.height / 2 - state.cy * g.height * g.scale;
      g.image.style.width = g.width + "px";
      g.image.style.height = g.height + "px";
      g.image.style.transform = "translate(" + x.toFixed(2) + "px, " + y.toFixed(2) + "px) scale(" + g.scale.toFixed(5) + ")";
    });
    if (level && panes.length) {
      var g = geometry(panes[0]);
      var real = g.scale * window.devicePixelRatio;
      level.textContent = Math.abs(state.zoom - 1) < 0.0001 ? "fit · " + Math.round(real * 100) + "% of A's pixels"
        : "×" + state.zoom.toFixed(state.zoom < 10 ? 1 : 0) + " · " + Math.round(real * 100) + "% of A's pixels";
    }
  }

  // Zoom by `factor` keeping the image point under (px, py) of `viewport` where it is.
  function zoomAt(factor, viewport, px, py) {
    var g = geometry(viewport || panes[0]);
    if (!g.scale) {
      return;
    }
    px = px === undefined ? g.box.width / 2 : px;
    py = py === undefined ? g.box.height / 2 : py;
    var pointX = state.cx + (px - g.box.width / 2) / (g.width * g.scale);
    var pointY = state.cy + (py - g.box.height / 2) / (g.height * g.scale);
    state.zoom *= factor;
    limitZoom(g);
    var scale = g.fit * state.zoom;
    state.cx = pointX - (px - g.box.width / 2) / (g.width * scale);
    state.cy = pointY - (py - g.box.height / 2) / (g.height * scale);
    apply();
  }

  function panBy(viewport, dx, dy) {
    var g = geometry(viewport);
    if (!g.scale) {
      return;
    }
    state.cx -= dx / (g.width * g.scale);
    state.cy -= dy / (g.height * g.scale);
    apply();
  }

  function actualSize() {
    var g = geometry(panes[0]);
    if (!g.fit) {
      return;
    }
    state.zoom = 1 / (window.devicePixelRatio * g.fit); // one image pixel per device pixel
    apply();
  }

  page.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.dataset.zoom;
      if (action === "in") {
        zoomAt(1.5);
      } else if (action === "out") {
        zoomAt(1 / 1.5);
      } else if (action === "fit") {
        state.zoom = 1;
        apply();
      } else {
        actualSize();
      }
    });
  });

  panes.forEach(function (viewport) {
    var pointers = new Map();
    var pinch = null;

    viewport.addEventListener("wheel", function (event) {
      event.preventDefault();
      var box = viewport.getBoundingClientRect();
      zoomAt(Math.exp(-event.deltaY * 0.002), viewport, event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });

    viewport.addEventListener("pointerdown", function (event) {
      viewport.setPointerCapture(event.pointerId);
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      viewport.classList.add("dragging");
    });
    viewport.addEventListener("pointermove", function (event) {
      var last = pointers.get(event.pointerId);
      if (!last) {
        return;
      }
      var now = { x: event.clientX, y: event.clientY };
      pointers.set(event.pointerId, now);
      if (pointers.size === 1) {
        panBy(viewport, now.x - last.x, now.y - last.y);
      } else if (pointers.size === 2) {
        var points = Array.from(pointers.values());
        var distance = Math.hypot(points[0].x - points[1].x, points[0].y - points[1].y);
        var box = viewport.getBoundingClientRect();
        if (pinch && distance > 0) {
          zoomAt(distance / pinch, viewport, (points[0].x + points[1].x) / 2 - box.left,
                 (points[0].y + points[1].y) / 2 - box.top);
        }
        pinch = distance;
      }
    });
    var release = function (event) {
      pointers.delete(event.pointerId);
      pinch = null;
      if (!pointers.size) {
        viewport.classList.remove("dragging");
      }
    };
    viewport.addEventListener("pointerup", release);
    viewport.addEventListener("pointercancel", release);

    viewport.addEventListener("keydown", function (event) {
      var g = geometry(viewport);
      var stepX = g.box.width * 0.1;
      var stepY = g.box.height * 0.1;
      var handled = true;
      switch (event.key) {
        case "+": case "=": zoomAt(1.25, viewport); break;
        case "-": case "_": zoomAt(0.8, viewport); break;
        case "0": state.zoom = 1; apply(); break;
        case "1": actualSize(); break;
        case "ArrowLeft": panBy(viewport, stepX, 0); break; // look further left
        case "ArrowRight": panBy(viewport, -stepX, 0); break;
        case "ArrowUp": panBy(viewport, 0, stepY); break;
        case "ArrowDown": panBy(viewport, 0, -stepY); break;
        default: handled = false;
      }
      if (handled) {
        event.preventDefault();
      }
    });

    viewport.querySelector("img").addEventListener("load", apply);
  });
  if (window.ResizeObserver) {
    var observer = new ResizeObserver(function () { apply(); });
    panes.forEach(function (viewport) { observer.observe(viewport); });
  }
  window.addEventListener("resize", apply);
  apply();

  // Swipe: the divider follows the range input, which a drag on the picture moves too.
  var swipe = page.querySelector("[data-swipe]");
  var swipeRange = page.querySelector("[data-swipe-range]");
  if (swipe && swipeRange) {
    var over = swipe.querySelector("[data-swipe-over]");
    var divider = swipe.querySelector("[data-swipe-divider]");
    var setSwipe = function () {
      var value = Number(swipeRange.value);
      over.style.clipPath = "inset(0 " + (100 - value) + "% 0 0)";
      divider.style.left = value + "%";
      swipeRange.setAttribute("aria-valuetext", value + "% of image A shown");
    };
    var dragging = false;
    var follow = function (event) {
      var box = swipe.getBoundingClientRect();
      swipeRange.value = Math.max(0, Math.min(100, (event.clientX - box.left) / box.width * 100));
      setSwipe();
    };
    swipe.addEventListener("pointerdown", function (event) {
      dragging = true;
      swipe.setPointerCapture(event.pointerId);
      follow(event);
    });
    swipe.addEventListener("pointermove", function (event) {
      if (dragging) {
        follow(event);
      }
    });
    swipe.addEventListener("pointerup", function () { dragging = false; });
    swipe.addEventListener("pointercancel", function () { dragging = false; });
    swipeRange.addEventListener("input", setSwipe);
    setSwipe();
  }

  // Onion skin: image A's opacity over image B.
  var onionRange = page.querySelector("[data-onion-range]");
  var onionOver = page.querySelector("[data-onion-over]");
  if (onionRange && onionOver) {
    var setOnion = function () {
      onionOver.style.opacity = Number(onionRange.value) / 100;
      onionRange.setAttribute("aria-valuetext", onionRange.value + "% image A");
    };
    onionRange.addEventListener("input", setOnion);
    setOnion();
  }
})();
