// Deep linking pages. Everything works without scripts; this only saves clicks.
// - The return page posts the signed response to the LMS at once (its button stays as fallback).
// - On the picker, changing the license-type filter runs the search.
(function () {
  "use strict";
  var back = document.getElementById("dl-return");
  if (back) {
    var button = back.querySelector("button");
    if (button) { button.disabled = true; }
    back.submit();
    // If the LMS page does not replace this one (e.g. a blocked navigation), offer the button again.
    window.setTimeout(function () { if (button) { button.disabled = false; } }, 4000);
    return;
  }
  var filter = document.getElementById("dl-type");
  var search = document.getElementById("dl-search");
  if (filter && search) {
    filter.addEventListener("change", function () { search.click(); });
  }
})();
