/* The player for imported SCORM courses (SCORM 1.2 and 2004), with scorm-again as the runtime.
 * No cookies: the token from the page's config goes in an Authorization header (and in the
 * body of sendBeacon, which cannot set headers).
 *
 * 1. POST /play/api/session starts a session; the answer carries the runtime's starting CMI
 *    (learner id and name, entry, location, suspend data, status, score, total time, credit,
 *    mode, launch data, mastery score ...) and the URL of the course's launch page.
 * 2. A Scorm12API / Scorm2004API (scorm-again, autocommit off) is loaded with that CMI
 *    (loadFromFlattenedJSON) and set as window.API / window.API_1484_11, where the course,
 *    in the iframe below, finds it by walking up its parents. Only then is the iframe loaded.
 * 3. Every Commit, Finish or Terminate of the course goes through this page's HTTP service for
 *    scorm-again: a synchronous POST /play/api/cmi with the whole CMI state, so the course's
 *    Commit returns the server's real answer ("false" + GetLastError code when the server
 *    refuses, e.g. suspend data over the SCORM limit). Location and suspend data longer than the
 *    version allows are refused at SetValue already.
 * 4. When the page is hidden or closed (visibilitychange, pagehide), the current state goes to
 *    the server with navigator.sendBeacon; while the page closes, the course's own Finish
 *    goes by beacon too (browsers refuse synchronous requests then). Every commit carries the
 *    session number and a sequence number, so beacons arriving out of order never put an older
 *    state over a newer one.
 *
 * PlayerBridge (window.PlayerBridge) has the same contract as in player.js: every state change
 * the server confirms is published as {kind: "session" | "commit", courseId, origin, state,
 * sessionSeconds} (sessionSeconds: the time this commit added).
 */
(function () {
  "use strict";

  var configNode = document.getElementById("player-config");
  if (!configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var token = config.token;
  var version = config.scormVersion;
  var is2004 = version === "scorm2004";
  var state = config.state;
  var session = null;          // the session number /play/api/session gave
  var seq = 0;                 // numbers this page's commits: the server ignores one older than the last
  var api = null;
  var initializedAt = null;    // when the course called Initialize
  var finished = false;        // the course called Finish/Terminate
  var leaving = false;         // the page is being closed: beacons only
  var stopped = false;         // the server refused the token or seat
  var OK = { result: "true", errorCode: 0 };
  var FAILED = { result: "false", errorCode: config.errors.commit };

  // ------------------------------------------------------------ PlayerBridge (dispatch hook)

  var PlayerBridge = window.createPlayerBridge(config, function () { return state; });

  // ------------------------------------------------------------ page

  function showNotice(text) {
    var notice = document.getElementById("player-notice");
    notice.textContent = text;
    notice.hidden = false;
  }

  /** The server words the status (lti_tool/player/rules.py: a failed attempt is never "completed"). */
  function renderStatus() {
    document.getElementById("player-status").textContent = state.label;
  }

  function accept(kind, newState) {
    if (!newState) { return; }
    var before = state && state.total_time_seconds ? state.total_time_seconds : 0;
    state = newState;
    renderStatus();
    PlayerBridge.publish(kind, state, Math.max(0, (state.total_time_seconds || 0) - before));
  }

  function refused(status, message, data) {
    // The token expired, the seat is gone, the package was revoked, the content is not available:
    // stop saving and say so (with the server's "ask" when it gave one).
    if (status === 401 || status === 403 || status === 404 || status === 409 || status === 410) {
      var ask = data && typeof data.ask === "string" ? data.ask : "";
      stopped = true;
      showNotice(message + " Your progress up to now is saved. " + (ask || "Open the course again from your LMS."));
      PlayerBridge.stop({ status: status, code: data && data.error ? String(data.error) : "", message: message,
                          ask: ask });
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------ server calls

  function playerSeconds() {
    return initializedAt === null ? 0 : Math.max(0, Math.round((Date.now() - initializedAt) / 10) / 100);
  }

  function commitBody(flat, isFinal) {
    seq += 1;
    return { scorm_version: version, session: session, seq: seq, cmi: flat, final: !!isFinal,
             player_seconds: playerSeconds() };
  }

  function beacon(body) {
    body.token = token;
    var payload = JSON.stringify(body);
    try {
      if (navigator.sendBeacon &&
          navigator.sendBeacon(config.api.cmi, new Blob([payload], { type: "text/plain;charset=UTF-8" }))) {
        return true;
      }
    } catch (err) { /* fall back to fetch */ }
    try {
      fetch(config.api.cmi, { method: "POST", body: payload, keepalive: true, credentials: "omit",
                              headers: { "Content-Type": "text/plain;charset=UTF-8" } });
      return true;
    } catch (err2) {
      return false;
    }
  }

  /** scorm-again's HTTP service: the course's Commit/Finish/Terminate arrive here. */
  var httpService = {
    processHttpRequest: function (url, params, immediate, apiLog, processListeners, metadata) {
      var isFinal = metadata ? !!metadata.isTerminateCommit : !!immediate;
      var body = commitBody(params, isFinal);
      if (stopped) { return FAILED; }
      if (leaving) { return beacon(body) ? OK : FAILED; }
      var xhr = new XMLHttpRequest();
      try {
        xhr.open("POST", config.api.cmi, false);  // synchronous: the course gets the real result
        xhr.setRequestHeader("Authorization", "Bearer " + token);
        xhr.setRequestHeader("Content-Type", "application/json");
        xhr.send(JSON.stringify(body));
      } catch (err) {
        // A closing page may not send synchronous requests: the beacon carries the state.
        return beacon(body) ? OK : FAILED;
      }
      var data = {};
      try { data = JSON.parse(xhr.responseText || "{}") || {}; } catch (err2) { data = {}; }
      if (xhr.status >= 200 && xhr.status < 300) {
        accept("commit", data.state);
        return OK;
      }
      var message = data.message || ("HTTP " + xhr.status);
      if (!refused(xhr.status, message, data)) { showNotice("Your progress could not be saved: " + message); }
      return { result: "false", errorCode: typeof data.errorCode === "number" ? data.errorCode : config.errors.commit };
    },
    updateSettings: function () { /* nothing to keep */ }
  };

  /** The current state by beacon (page hidden or closed), unless the course already finished. */
  function flush() {
    if (!api || stopped || finished || initializedAt === null) { return; }
    try { beacon(commitBody(api.renderCommitCMI(true), false)); } catch (err) { /* nothing more to do */ }
  }

  // ------------------------------------------------------------ the runtime

  /** Location and suspend data over the version's limit are refused at SetValue. */
  function guardLimits(method) {
    var original = api[method];
    var limits = {};
    limits[is2004 ? "cmi.location" : "cmi.core.lesson_location"] = config.limits.location;
    limits["cmi.suspend_data"] = config.limits.suspend_data;
    api[method] = function (element, value) {
      var limit = limits[element];
      if (limit !== undefined && api.isInitialized() && String(value).length > limit) {
        api.throwSCORMError(element, config.errors.setValue,
                            element + " holds at most " + limit + " characters in SCORM " + (is2004 ? "2004" : "1.2"));
        return "false";
      }
      return original.apply(api, arguments);
    };
  }

  function startRuntime(scormData) {
    var Runtime = is2004 ? window.Scorm2004API : window.Scorm12API;
    if (!Runtime) {
      showNotice("The course runtime did not load. Reload the page; if this persists, tell your LMS administrator.");
      return;
    }
    session = scormData.session;
    api = new Runtime({
      autocommit: false,
      lmsCommitUrl: config.api.cmi,
      dataCommitFormat: "flattened",
      sendFullCommit: true,
      httpService: httpService,
      logLevel: 4
    });
    api.loadFromFlattenedJSON(scormData.cmi || {});
    guardLimits(is2004 ? "SetValue" : "LMSSetValue");
    api.on(is2004 ? "Initialize" : "LMSInitialize", function () { initializedAt = Date.now(); });
    api.on(is2004 ? "Terminate" : "LMSFinish", function () {
      finished = true;
      if (!leaving) { window.setTimeout(closeCourse, 0); }  // after the course's own Finish handler returns
    });
    if (is2004) { window.API_1484_11 = api; } else { window.API = api; }

    var frame = document.getElementById("scorm-frame");
    frame.addEventListener("load", function () {
      document.getElementById("player-loading").hidden = true;
      fitFrame(frame);
    });
    frame.hidden = false;
    frame.src = scormData.launch_url;
  }

  /** After "Save and close" (Finish/Terminate) the course is unloaded: nothing under the notice
   *  can be clicked or typed into any more. */
  function closeCourse() {
    var frame = document.getElementById("scorm-frame");
    if (resizeWatch) { resizeWatch.disconnect(); resizeWatch = null; }
    frame.src = "about:blank";
    frame.hidden = true;
    var closed = document.getElementById("player-closed");
    closed.hidden = false;
    closed.focus();
  }

  // ------------------------------------------------------------ one scroller

  /** The course's pages come from this origin: the frame takes the height of its page, so the
   *  tool's page (itself inside the LMS frame) is the only thing that scrolls, on a phone too.
   *  A page that cannot be measured keeps the frame's CSS height. */
  var resizeWatch = null;
  function fitFrame(frame) {
    if (resizeWatch) { resizeWatch.disconnect(); resizeWatch = null; }
    var doc;
    try { doc = frame.contentDocument; } catch (err) { doc = null; }
    if (!doc || !doc.documentElement || !doc.body || typeof window.ResizeObserver !== "function") {
      frame.classList.remove("fitted");
      return;
    }
    var fit = function () {  // the body's own height with its margins (never the frame's height)
      var style = doc.defaultView ? doc.defaultView.getComputedStyle(doc.body) : null;
      var margins = style ? (parseFloat(style.marginTop) || 0) + (parseFloat(style.marginBottom) || 0) : 0;
      var borders = frame.offsetHeight - frame.clientHeight;  // the frame's own border (box-sizing: border-box)
      frame.style.height = Math.ceil(Math.max(doc.body.offsetHeight, doc.body.scrollHeight) + margins + borders) + "px";
    };
    frame.classList.add("fitted");
    fit();
    resizeWatch = new window.ResizeObserver(fit);
    resizeWatch.observe(doc.body);
  }

  // ------------------------------------------------------------ wiring

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { flush(); }
  });
  window.addEventListener("pagehide", function () {
    leaving = true;
    flush();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { leaving = false; }
  });

  renderStatus();
  fetch(config.api.session, {
    method: "POST",
    headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: "{}",
    credentials: "omit",
    cache: "no-store"
  }).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (data) {
      if (!response.ok) {
        if (!refused(response.status, data.message || ("HTTP " + response.status), data)) {
          showNotice("The course could not start: " + (data.message || ("HTTP " + response.status)));
        }
        return;
      }
      accept("session", data.state);
      if (!data.scorm) {
        showNotice("This course is no longer an imported SCORM course: reload the page.");
        return;
      }
      startRuntime(data.scorm);
    });
  }, function (err) {
    showNotice("The course could not reach the server: " + err.message);
  });
})();
