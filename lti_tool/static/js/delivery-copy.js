// Copy buttons of the LTI link page: each copies its read-only field (data-copy-field). The
// buttons stay hidden without scripts; the fields can still be selected and copied by hand.
(function () {
  var status = document.getElementById("delivery-copy-status");
  function say(text) { if (status) { status.textContent = text; } }
  document.querySelectorAll("button[data-copy-field]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy-field"));
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      field.focus();
      field.select();
      var done = function () { say("Copied."); };
      var byHand = function () {
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        say(ok ? "Copied." : "Selected: press Ctrl+C (or ⌘C) to copy.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, byHand);
      } else {
        byHand();
      }
    });
  });
})();
