/* SCORM dispatch launch page (runs in the LMS, from the package zip; config in config.js).
 *
 * 1. Find the LMS API: this window, then window.parent up to the top, then window.opener and
 *    its parents (a cross-origin frame throws on access: caught, the walk goes on). SCORM 1.2
 *    is window.API, SCORM 2004 window.API_1484_11.
 * 2. Initialize, then read synchronously: learner id and name, entry, location, suspend data,
 *    status, credit, mode, launch data, mastery score. Every call's result is checked with
 *    GetLastError; problems are shown on the page, never swallowed. A first attempt is set to
 *    "incomplete" at once (an LMS must not take a launch refused a seat for a completion).
 * 3. Sign a short-lived launch token (HS256 JWT with this package's secret; dated with the
 *    server's clock from /dispatch/time; a fresh random jti for every token, since the server
 *    accepts each jti once: opening the course again signs a new token) and POST it into the
 *    player iframe. The server checks
 *    the package, the LMS domain and the seat, then shows the course player or a page saying
 *    why not. No cookies: the token travels in the form, then in the player's URL and headers.
 * 4. Talk to the player with postMessage, explicit origins both ways (never "*"):
 *    - to the player (target: the product origin), on every load of the iframe:
 *        {type: "dispatch.init", version: 1, scormVersion, packageKey, lms: {...}, limits}
 *    - from the player (accepted only from the product origin AND the iframe's window):
 *        {type: "player.status", version: 1, kind, state: {completion_status, success_status,
 *         score_percent, score_raw, score_max, location, suspend_data}}
 *        {type: "player.exit", version: 1}
 *        {type: "player.stopped", version: 1, reason, message}  (the server refused the player
 *         for good, e.g. the package was revoked: listed on this page; the progress is committed)
 *    - back to the player after each status relayed:
 *        {type: "dispatch.result", version: 1, ok, errors: [{element, value, code, text}]}
 * 5. Relay: write the values to the LMS (DispatchCmi.values: 1.2 lesson_status / 2004
 *    completion+success, score min/max/raw(/scaled), location and suspend data cut to the
 *    version's limits, session time in the version's format), judging each write by the API's
 *    return value. Commit debounced; commit when the page is hidden; on pagehide (or
 *    player.exit) set exit and session time, commit and Finish/Terminate. The player itself
 *    sends its final state to the server with sendBeacon: the full state stays there.
 *
 * DispatchCmi mirrors scorm_packages/cmi.py function for function (tests compare the two).
 */
(function (root) {
  "use strict";

  // ------------------------------------------------------------ DispatchCmi (pure helpers)

  var LIMITS = {
    scorm12: { location: 255, suspend_data: 4096 },
    scorm2004: { location: 1000, suspend_data: 64000 }
  };
  var ELEMENTS = {
    scorm12: {
      location: "cmi.core.lesson_location", suspend_data: "cmi.suspend_data",
      session_time: "cmi.core.session_time", exit: "cmi.core.exit",
      score_min: "cmi.core.score.min", score_max: "cmi.core.score.max", score_raw: "cmi.core.score.raw",
      lesson_status: "cmi.core.lesson_status"
    },
    scorm2004: {
      location: "cmi.location", suspend_data: "cmi.suspend_data",
      session_time: "cmi.session_time", exit: "cmi.exit",
      score_min: "cmi.score.min", score_max: "cmi.score.max", score_raw: "cmi.score.raw",
      score_scaled: "cmi.score.scaled", completion_status: "cmi.completion_status",
      success_status: "cmi.success_status"
    }
  };
  var MAX_HOURS_12 = 9999;

  function isNumber(value) { return typeof value === "number" && isFinite(value); }

  function centiseconds(seconds) {
    if (!isNumber(seconds)) { return 0; }
    return Math.max(0, Math.floor(seconds * 100 + 0.5));
  }

  function pad(number, width) {
    var text = String(number);
    while (text.length < width) { text = "0" + text; }
    return text;
  }

  function sessionTime12(seconds) {
    var cs = Math.min(centiseconds(seconds), (MAX_HOURS_12 + 1) * 360000 - 1);
    var hours = Math.floor(cs / 360000);
    var minutes = Math.floor((cs % 360000) / 6000);
    var secs = Math.floor((cs % 6000) / 100);
    return pad(hours, 4) + ":" + pad(minutes, 2) + ":" + pad(secs, 2) + "." + pad(cs % 100, 2);
  }

  function sessionTime2004(seconds) {
    var cs = centiseconds(seconds);
    var hours = Math.floor(cs / 360000);
    var minutes = Math.floor((cs % 360000) / 6000);
    var secs = Math.floor((cs % 6000) / 100);
    var cents = cs % 100;
    var out = "PT";
    if (hours) { out += hours + "H"; }
    if (minutes) { out += minutes + "M"; }
    if (secs || cents) { out += (secs + "." + pad(cents, 2)).replace(/0+$/, "").replace(/\.$/, "") + "S"; }
    return out === "PT" ? "PT0S" : out;
  }

  function sessionTime(fmt, seconds) { return fmt === "scorm12" ? sessionTime12(seconds) : sessionTime2004(seconds); }

  /** At most maxUnits UTF-16 code units (what the LMS's JavaScript counts); a surrogate pair is
   *  never split. */
  function truncateUtf16(text, maxUnits) {
    if (text.length <= maxUnits) { return text; }
    var end = maxUnits;
    var last = text.charCodeAt(end - 1);
    if (last >= 0xD800 && last <= 0xDBFF) { end -= 1; }
    return text.slice(0, end);
  }

  function limit(fmt, field, text) { return truncateUtf16(text, LIMITS[fmt][field]); }

  function decimalText(value) { return String(Math.floor(value * 100 + 0.5) / 100); }

  function scorePercent(state) {
    if (isNumber(state.score_percent)) { return Math.min(100, Math.max(0, state.score_percent)); }
    if (isNumber(state.score_raw) && isNumber(state.score_max) && state.score_max > 0) {
      return Math.min(100, Math.max(0, 100 * state.score_raw / state.score_max));
    }
    return null;
  }

  function lessonStatus12(completion, success) {
    if (success === "passed" || success === "failed") { return success; }
    if (completion === "completed" || completion === "incomplete") { return completion; }
    return null;
  }

  function exitValue(fmt, state) {
    if (state && state.completion_status === "completed") { return fmt === "scorm12" ? "" : "normal"; }
    return "suspend";
  }

  /** [element, value] pairs to write for a player state, in the order to write them. */
  function values(fmt, state, elapsedSeconds) {
    var names = ELEMENTS[fmt];
    var out = [];
    if (fmt === "scorm12") {
      var status = lessonStatus12(state.completion_status, state.success_status);
      if (status !== null) { out.push([names.lesson_status, status]); }
    } else {
      if (state.completion_status === "completed" || state.completion_status === "incomplete") {
        out.push([names.completion_status, state.completion_status]);
      }
      if (state.success_status === "passed" || state.success_status === "failed") {
        out.push([names.success_status, state.success_status]);
      }
    }
    var percent = scorePercent(state);
    if (percent !== null) {
      out.push([names.score_min, "0"], [names.score_max, "100"], [names.score_raw, decimalText(percent)]);
      if (fmt === "scorm2004") { out.push([names.score_scaled, String(Math.floor(percent * 100 + 0.5) / 10000)]); }
    }
    // An empty location or suspend data is not written: an LMS may refuse "" and there is nothing to keep.
    if (typeof state.location === "string" && state.location) {
      out.push([names.location, limit(fmt, "location", state.location)]);
    }
    if (typeof state.suspend_data === "string" && state.suspend_data) {
      out.push([names.suspend_data, limit(fmt, "suspend_data", state.suspend_data)]);
    }
    out.push([names.session_time, sessionTime(fmt, elapsedSeconds)]);
    return out;
  }

  var Cmi = {
    LIMITS: LIMITS, ELEMENTS: ELEMENTS, sessionTime12: sessionTime12, sessionTime2004: sessionTime2004,
    sessionTime: sessionTime, truncateUtf16: truncateUtf16, limit: limit, decimalText: decimalText,
    scorePercent: scorePercent, lessonStatus12: lessonStatus12, exitValue: exitValue, values: values
  };
  root.DispatchCmi = Cmi;

  if (!root.document || !root.DISPATCH_CONFIG) { return; } // loaded for its helpers only

  // ------------------------------------------------------------ the launch page

  var config = root.DISPATCH_CONFIG;
  var FMT = config.format;
  var IS_12 = FMT === "scorm12";
  var MAX_DEPTH = 10;
  var COMMIT_DELAY_MS = 2000;
  var TIME_TIMEOUT_MS = 3000;
  var MAX_ERRORS_SHOWN = 12;
  var OPTIONAL_READ_ERRORS = IS_12 ? ["401"] : ["401", "402", "403"];
  var NAMES = IS_12 ?
    { init: "LMSInitialize", get: "LMSGetValue", set: "LMSSetValue", commit: "LMSCommit", finish: "LMSFinish",
      error: "LMSGetLastError", errorString: "LMSGetErrorString", diagnostic: "LMSGetDiagnostic" } :
    { init: "Initialize", get: "GetValue", set: "SetValue", commit: "Commit", finish: "Terminate",
      error: "GetLastError", errorString: "GetErrorString", diagnostic: "GetDiagnostic" };

  var statusNode = document.getElementById("dispatch-status");
  var errorsNode = document.getElementById("dispatch-errors");
  var api = null;
  var frame = null;
  var startedAt = Date.now();
  var lastState = null;
  var written = {};
  var commitTimer = null;
  var dirty = false;
  var finished = false;
  var lms = {};
  var errorCount = 0;

  function setStatus(text) {
    statusNode.textContent = text;
    statusNode.hidden = !text;
  }

  function showError(text) {
    errorCount += 1;
    if (errorCount > MAX_ERRORS_SHOWN) { return; }
    var line = document.createElement("p");
    line.textContent = errorCount === MAX_ERRORS_SHOWN ? "More LMS errors follow; only the first ones are shown." : text;
    errorsNode.appendChild(line);
    errorsNode.hidden = false;
    if (root.console) { root.console.error("[dispatch] " + text); }
  }

  function fail(text) {
    setStatus("");
    showError(text);
  }

  // ------------------------------------------------------------ finding and calling the LMS API

  function apiIn(win, name) {
    try {
      var candidate = win[name];
      return candidate && (typeof candidate === "object" || typeof candidate === "function") ? candidate : null;
    } catch (err) {
      return null; // a window of another origin
    }
  }

  function parentOf(win) {
    try { return win.parent && win.parent !== win ? win.parent : null; } catch (err) { return null; }
  }

  function walk(start, name) {
    var win = start;
    for (var depth = 0; win && depth <= MAX_DEPTH; depth += 1) {
      var found = apiIn(win, name);
      if (found) { return found; }
      win = parentOf(win);
    }
    return null;
  }

  function findApi(name) {
    var found = walk(root, name);
    if (found) { return found; }
    var openers = [];
    try { if (root.opener) { openers.push(root.opener); } } catch (err) { /* cross-origin */ }
    try { if (root.top && root.top.opener) { openers.push(root.top.opener); } } catch (err) { /* cross-origin */ }
    for (var i = 0; i < openers.length; i += 1) {
      found = walk(openers[i], name);
      if (found) { return found; }
    }
    return null;
  }

  function isTrue(result) { return result === true || String(result) === "true"; }

  function call(method, args) {
    var fn = api[NAMES[method]];
    if (typeof fn !== "function") { throw new Error("the LMS API has no " + NAMES[method] + " function"); }
    return fn.apply(api, args);
  }

  function lastError() {
    var code = "";
    try { code = String(call("error", [])); } catch (err) { return { code: "?", text: String(err.message || err), diagnostic: "" }; }
    if (code === "0" || code === "") { return null; }
    var text = "";
    var diagnostic = "";
    try { text = String(call("errorString", [code])); } catch (err) { text = ""; }
    try { diagnostic = String(call("diagnostic", [code])); } catch (err) { diagnostic = ""; }
    return { code: code, text: text, diagnostic: diagnostic };
  }

  function describe(error) {
    var text = "error " + error.code + (error.text ? " (" + error.text + ")" : "");
    if (error.diagnostic && error.diagnostic !== error.text) { text += ": " + error.diagnostic; }
    return text;
  }

  /** A call that answers "true"/"false"; returns null when it worked, else the error. */
  function act(method, args) {
    var result;
    try { result = call(method, args); } catch (err) { return { code: "?", text: String(err.message || err), diagnostic: "" }; }
    if (isTrue(result)) { return null; }
    return lastError() || { code: "?", text: "the LMS answered " + JSON.stringify(result), diagnostic: "" };
  }

  lms.initialize = function () { return act("init", [""]); };
  lms.commit = function () { return act("commit", [""]); };
  lms.finish = function () { return act("finish", [""]); };
  lms.set = function (element, value) { return act("set", [element, value]); };
  lms.get = function (element, optional) {
    var value;
    try { value = call("get", [element]); } catch (err) {
      showError("Reading " + element + " from the LMS failed: " + (err.message || err));
      return "";
    }
    var error = lastError();
    if (error && !(optional && OPTIONAL_READ_ERRORS.indexOf(error.code) >= 0)) {
      showError("The LMS could not give " + element + ": " + describe(error));
    }
    return value === null || value === undefined ? "" : String(value);
  };

  function readLearner() {
    var names = IS_12 ?
      { learnerId: "cmi.core.student_id", learnerName: "cmi.core.student_name", entry: "cmi.core.entry",
        location: "cmi.core.lesson_location", suspendData: "cmi.suspend_data",
        lessonStatus: "cmi.core.lesson_status", credit: "cmi.core.credit", mode: "cmi.core.lesson_mode",
        launchData: "cmi.launch_data", masteryScore: "cmi.student_data.mastery_score" } :
      { learnerId: "cmi.learner_id", learnerName: "cmi.learner_name", entry: "cmi.entry",
        location: "cmi.location", suspendData: "cmi.suspend_data", completionStatus: "cmi.completion_status",
        successStatus: "cmi.success_status", credit: "cmi.credit", mode: "cmi.mode",
        launchData: "cmi.launch_data", masteryScore: "cmi.scaled_passing_score" };
    var data = {};
    Object.keys(names).forEach(function (key) { data[key] = lms.get(names[key], key !== "learnerId"); });
    return data;
  }

  // ------------------------------------------------------------ the launch token

  function utf8(text) { return new TextEncoder().encode(text); }

  function base64url(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomId(bytes) {
    var data = new Uint8Array(bytes);
    root.crypto.getRandomValues(data);
    return base64url(data);
  }

  function serverClockOffsetMs() {
    if (!root.fetch) { return Promise.resolve(0); }
    var controller = root.AbortController ? new root.AbortController() : null;
    var timer = setTimeout(function () { if (controller) { controller.abort(); } }, TIME_TIMEOUT_MS);
    var asked = Date.now();
    return root.fetch(config.timeUrl, { credentials: "omit", cache: "no-store", mode: "cors",
                                        signal: controller ? controller.signal : undefined })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        clearTimeout(timer);
        if (!data || !isNumber(data.now)) { return 0; }
        var local = (asked + Date.now()) / 2;
        return data.now * 1000 - local;
      }, function () { clearTimeout(timer); return 0; });
  }

  function originOf(url) {
    try { return url ? new URL(url).origin : null; } catch (err) { return null; }
  }

  function signLaunch(learner, offsetMs) {
    var issued = Math.floor((Date.now() + offsetMs) / 1000);
    var header = { alg: "HS256", typ: "JWT", kid: config.packageKey };
    var claims = {
      iss: config.packageKey, gen: config.generation, sub: learner.learnerId, name: learner.learnerName || null,
      org: root.location.origin, ref: originOf(document.referrer), iat: issued,
      exp: issued + config.tokenTtlSeconds, jti: randomId(12)
    };
    var signingInput = base64url(utf8(JSON.stringify(header))) + "." + base64url(utf8(JSON.stringify(claims)));
    var subtle = root.crypto.subtle;
    return subtle.importKey("raw", utf8(config.secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then(function (key) { return subtle.sign("HMAC", key, utf8(signingInput)); })
      .then(function (signature) { return signingInput + "." + base64url(new Uint8Array(signature)); });
  }

  function openPlayer(token) {
    var name = "dispatch-player-" + randomId(8).replace(/[^A-Za-z0-9]/g, "");
    frame = document.createElement("iframe");
    frame.id = "dispatch-player";
    frame.name = name;
    frame.title = document.title;
    frame.setAttribute("allow", "fullscreen");
    frame.addEventListener("load", sendInit);
    document.body.appendChild(frame);
    var form = document.createElement("form");
    form.method = "post";
    form.action = config.launchUrl;
    form.target = name;
    form.hidden = true;
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = "token";
    field.value = token;
    form.appendChild(field);
    document.body.appendChild(form);
    form.submit();
    document.body.removeChild(form);
    setStatus("");
  }

  // ------------------------------------------------------------ talking to the player

  var learnerData = null;

  function toPlayer(message) {
    if (frame && frame.contentWindow) { frame.contentWindow.postMessage(message, config.productOrigin); }
  }

  function sendInit() {
    try {
      if (frame.contentWindow.location.href === "about:blank") { return; } // not loaded yet
    } catch (err) { /* another origin: the product's page */ }
    toPlayer({ type: "dispatch.init", version: 1, scormVersion: config.scormVersion, packageKey: config.packageKey,
               lms: learnerData, limits: LIMITS[FMT] });
  }

  function elapsedSeconds() { return (Date.now() - startedAt) / 1000; }

  function write(element, value, errors) {
    var error = lms.set(element, value);
    if (error) {
      errors.push({ element: element, value: value, code: error.code, text: error.text });
      showError("The LMS did not accept " + element + " = " + JSON.stringify(value.length > 80 ?
        value.slice(0, 80) + "\u2026" : value) + ": " + describe(error));
      return false;
    }
    written[element] = value;
    return true;
  }

  function relay(state) {
    if (finished || !state || typeof state !== "object") { return; }
    lastState = state;
    var errors = [];
    values(FMT, state, elapsedSeconds()).forEach(function (pair) {
      if (written[pair[0]] === pair[1]) { return; }
      if (write(pair[0], pair[1], errors)) { dirty = true; }
    });
    scheduleCommit();
    toPlayer({ type: "dispatch.result", version: 1, ok: errors.length === 0, errors: errors });
  }

  function scheduleCommit() {
    if (commitTimer) { clearTimeout(commitTimer); }
    commitTimer = setTimeout(commitNow, COMMIT_DELAY_MS);
  }

  function commitNow() {
    if (commitTimer) { clearTimeout(commitTimer); commitTimer = null; }
    if (finished || !dirty) { return; }
    var errors = [];
    write(ELEMENTS[FMT].session_time, sessionTime(FMT, elapsedSeconds()), errors);
    var error = lms.commit();
    if (error) { showError("The LMS could not save the progress (Commit): " + describe(error)); return; }
    dirty = false;
  }

  function finish() {
    if (finished || !api) { return; }
    var errors = [];
    write(ELEMENTS[FMT].exit, exitValue(FMT, lastState), errors);
    write(ELEMENTS[FMT].session_time, sessionTime(FMT, elapsedSeconds()), errors);
    if (IS_12) {
      var commitError = lms.commit();
      if (commitError) { showError("The LMS could not save the progress (LMSCommit): " + describe(commitError)); }
    }
    var error = lms.finish();  // 2004: Terminate commits implicitly
    finished = true;
    if (commitTimer) { clearTimeout(commitTimer); commitTimer = null; }
    if (error) { showError("The LMS could not close the session (" + NAMES.finish + "): " + describe(error)); }
  }

  root.addEventListener("message", function (event) {
    if (event.origin !== config.productOrigin) { return; }
    if (!frame || event.source !== frame.contentWindow) { return; }
    var data = event.data;
    if (!data || typeof data !== "object" || data.version !== 1 || typeof data.type !== "string") { return; }
    if (data.type === "player.status") {
      relay(data.state);
    } else if (data.type === "player.exit") {
      commitNow();
      finish();
      if (finished) { setStatus("You have left the course. You can close this window."); }
    } else if (data.type === "player.ready") {
      sendInit();
    } else if (data.type === "player.stopped") {
      commitNow();
      showError(typeof data.message === "string" && data.message ? data.message.slice(0, 500) :
                "The course server stopped this course (" + String(data.reason || "").slice(0, 40) + ").");
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { commitNow(); }
  });
  root.addEventListener("pagehide", function () { commitNow(); finish(); });
  root.addEventListener("pageshow", function (event) {
    if (event.persisted && finished) { fail("This course session has ended. Open the course again from your LMS."); }
  });

  // ------------------------------------------------------------ start

  /** A first launch becomes "incomplete" at once: some SCORM 1.2 LMSs mark a SCO that finishes
   *  without a status as completed, which a refused launch (no seat) must never be. */
  function markAttempted() {
    var status = IS_12 ? learnerData.lessonStatus : learnerData.completionStatus;
    if (status === "" || status === "not attempted" || (!IS_12 && status === "unknown")) {
      var element = IS_12 ? ELEMENTS.scorm12.lesson_status : ELEMENTS.scorm2004.completion_status;
      if (write(element, "incomplete", [])) { dirty = true; scheduleCommit(); }
    }
  }

  function start() {
    api = findApi(IS_12 ? "API" : "API_1484_11");
    if (!api) {
      fail("The LMS's SCORM " + config.scormVersion + " API was not found. Open this course from your LMS " +
           "(the package must be uploaded as a SCORM " + config.scormVersion + " package).");
      return;
    }
    var initError = lms.initialize();
    if (initError) {
      api = null;
      fail("The LMS refused to start the course (" + NAMES.init + "): " + describe(initError));
      return;
    }
    learnerData = readLearner();
    if (!learnerData.learnerId) {
      fail("The LMS did not give a learner id, so no seat can be assigned. Open the course while signed in to " +
           "your LMS.");
      return;
    }
    markAttempted();
    if (!root.crypto || !root.crypto.subtle || !root.TextEncoder) {
      fail("This browser cannot sign the course launch here: the LMS page must be served over HTTPS " +
           "(or use a current browser).");
      return;
    }
    setStatus("Opening " + config.course.title + "\u2026");
    serverClockOffsetMs()
      .then(function (offset) { return signLaunch(learnerData, offset); })
      .then(openPlayer, function (err) { fail("The course launch could not be prepared: " + (err.message || err)); });
  }

  start();
})(this);
