// Keyboard shortcuts on the match page: c confirm, r reject, i needs more info, n next.
"use strict";
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  var target = event.target;
  var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
  if (tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable)) return;
  var key = event.key.toLowerCase();
  var form = null;
  if (key === "c") form = document.getElementById("confirm-form");
  if (key === "r") form = document.getElementById("reject-form");
  if (key === "i") {
    var info = document.getElementById("info-form");
    if (info) { event.preventDefault(); info.querySelector("input[name=comment]").focus(); }
    return;
  }
  if (key === "n") {
    var next = document.getElementById("next");
    if (next) { event.preventDefault(); window.location.href = next.href; }
    return;
  }
  if (form) { event.preventDefault(); form.requestSubmit(); }
});
