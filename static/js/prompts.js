// The compare page's prompt picker (templates/compare/prompt_picker.html): after htmx swaps in the
// prompt textarea, a prompt that suggests a size (data-suggested-size="portrait") picks it in the
// Size select, and the route picker's estimates follow (the form refreshes them on "change").
document.addEventListener("htmx:afterSettle", function () {
  var prompt = document.getElementById("id_prompt");
  if (!prompt || !prompt.dataset.suggestedSize) return;
  var size = prompt.form && prompt.form.elements.namedItem("size");
  if (size && size.value !== prompt.dataset.suggestedSize) {
    size.value = prompt.dataset.suggestedSize;
    size.dispatchEvent(new Event("change", { bubbles: true }));
  }
  delete prompt.dataset.suggestedSize;
});
