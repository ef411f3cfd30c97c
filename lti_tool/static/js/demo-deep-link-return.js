/* Demo LMS: the deep-linking response page (inside the tool frame, on the LMS's own origin)
 * hands the verified links to the demo page around it. */
(function () {
  "use strict";
  var element = document.getElementById("demo-return-config");
  if (!element || window.parent === window) {
    return;
  }
  var cfg = JSON.parse(element.textContent);
  window.parent.postMessage({subject: "demo.deep_link_items", items: cfg.items}, cfg.demoOrigin);
})();
