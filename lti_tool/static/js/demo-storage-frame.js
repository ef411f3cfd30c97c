/* Demo LMS: the frame named by lti_storage_target. It answers the tool frame's Platform Storage
 * messages (see demo-platform-storage.js) and tells the demo page what it answered. */
(function () {
  "use strict";
  var element = document.getElementById("demo-storage-config");
  if (!element || !window.DemoPlatformStorage) {
    return;
  }
  var cfg = JSON.parse(element.textContent);
  window.DemoPlatformStorage.install({
    toolOrigin: cfg.toolOrigin,
    frameName: cfg.frameName,
    where: "frame " + cfg.frameName,
    log: function (text) {
      if (window.parent !== window) {
        window.parent.postMessage({subject: "demo.log", text: text}, cfg.demoOrigin);
      }
    }
  });
})();
