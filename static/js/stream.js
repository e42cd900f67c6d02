// Results pushed, not polled (compare/streams.py). While a page's event stream is open, the
// polling that each card, summary, race and matrix keeps as a fallback sends nothing: htmx asks
// "htmx:confirm" before every request, and a poll is the one request with no triggering event.
// When the stream errors (or EventSource is missing), the polling goes on as before.
(function () {
  var open = new Set();

  function source(elt) {
    return elt && elt.closest ? elt.closest("[sse-connect]") : null;
  }

  document.addEventListener("htmx:sseOpen", function (event) { open.add(event.target); });
  document.addEventListener("htmx:sseError", function (event) { open.delete(event.target); });
  document.addEventListener("htmx:sseClose", function (event) { open.delete(event.target); });

  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail;
    var trigger = detail.elt.getAttribute("hx-trigger") || "";
    // Only the elements the stream drives (an "sse:" trigger); others (a card's text checks) poll on.
    if (!detail.triggeringEvent && trigger.indexOf("sse:") !== -1 && open.has(source(detail.elt))) {
      event.preventDefault();  // a poll while the stream is up: the stream says when to ask
    }
  });
})();
