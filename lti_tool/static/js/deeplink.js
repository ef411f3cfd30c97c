// Deep linking pages. Everything works without scripts; this only saves clicks.
// - The return page posts the signed response to the LMS at once (its button stays as fallback).
// - On the picker, changing the license-type filter runs the search, and "Selected (n)" follows the
//   ticks at once (the selection kept from other pages plus the boxes ticked on this one).
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
  var heading = document.getElementById("dl-selected-heading");
  var count = document.getElementById("dl-selected-count");
  var form = document.getElementById("dl-form");
  if (heading && count && form) {
    var elsewhere = parseInt(heading.getAttribute("data-elsewhere"), 10) || 0;
    var multiple = heading.getAttribute("data-multiple") === "true";
    var initial = count.textContent;
    var note = document.getElementById("dl-ticked-note");
    form.addEventListener("change", function (event) {
      if (!event.target || event.target.name !== "pick") { return; }
      var ticked = form.querySelectorAll("input[name=pick]:checked").length;
      var n = multiple ? elsewhere + ticked : Math.min(1, elsewhere + ticked);
      count.textContent = String(n);
      if (note) { note.hidden = String(n) === initial; }
    });
  }
})();
