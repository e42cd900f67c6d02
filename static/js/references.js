// Reference images for an edit (templates/compare/new.html): a preview of each chosen file with
// its name and size, and a button to remove one file from the choice before submitting. The
// browser keeps the files; we rebuild the input's FileList without the removed one. Without
// JavaScript the plain file input works as before.
(function () {
  function bytes(size) {
    if (size < 1024) return size + " bytes";
    if (size < 1024 * 1024) return (size / 1024).toFixed(1) + " KB";
    return (size / 1024 / 1024).toFixed(1) + " MB";
  }

  function removeAt(input, box, index) {
    var kept = new DataTransfer();
    Array.from(input.files).forEach(function (other, i) { if (i !== index) kept.items.add(other); });
    input.files = kept.files;
    render(input, box);
    input.focus();
  }

  function render(input, box) {
    box.replaceChildren();
    Array.from(input.files).forEach(function (file, index) {
      var figure = document.createElement("figure");
      if (!/^image\/(png|jpeg|webp|gif)$/.test(file.type)) {
        // No preview of what is not an image: say so at once rather than draw a broken picture
        // (the server checks every file again and names the field if it refuses one).
        var note = document.createElement("figcaption");
        note.className = "error";
        note.textContent = file.name + " is not a PNG, JPEG, WebP or GIF image";
        var drop = document.createElement("button");
        drop.type = "button";
        drop.textContent = "Remove";
        drop.setAttribute("aria-label", "Remove " + file.name);
        drop.addEventListener("click", function () { removeAt(input, box, index); });
        figure.append(note, drop);
        box.append(figure);
        return;
      }
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = (input.name === "mask" ? "Mask: " : "Reference image " + (index + 1) + ": ") + file.name;
      img.onload = function () {
        caption.textContent = file.name + " · " + img.naturalWidth + "×" + img.naturalHeight + " · " + bytes(file.size);
        URL.revokeObjectURL(img.src);
      };
      var caption = document.createElement("figcaption");
      caption.textContent = file.name;
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove " + file.name);
      remove.addEventListener("click", function () { removeAt(input, box, index); });
      figure.append(img, caption, remove);
      box.append(figure);
    });
  }

  document.querySelectorAll("input[type=file][data-previews]").forEach(function (input) {
    var box = document.getElementById(input.dataset.previews);
    input.addEventListener("change", function () { render(input, box); });
  });
  document.querySelectorAll("[data-forget-references]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      document.querySelectorAll("input[name=references_from]").forEach(function (el) { el.remove(); });
      button.closest("p").textContent = "The earlier reference images will not be used.";
    });
  });
})();
