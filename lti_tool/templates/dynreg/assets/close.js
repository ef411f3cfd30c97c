// LTI Dynamic Registration: tell the LMS window the registration is done, so it closes this frame
// or popup. Sent to the platform's own origins only (issuer, configuration URL, the page that
// opened the registration), never to every origin.
(function () {
  var holder = document.getElementById("lti-close");
  if (!holder) { return; }
  var origins = [];
  try { origins = JSON.parse(holder.getAttribute("data-origins") || "[]"); } catch (e) { origins = []; }
  var target = window.opener || (window.parent !== window ? window.parent : null);
  if (!target) { return; }
  origins.forEach(function (origin) {
    try { target.postMessage({ subject: "org.imsglobal.lti.close" }, origin); } catch (e) { /* wrong origin */ }
  });
})();
