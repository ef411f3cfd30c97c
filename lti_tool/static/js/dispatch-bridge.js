/* The course player's side of a SCORM dispatch package (loaded only for dispatch launches, after
 * player.js or scorm-player.js, which define window.PlayerBridge).
 *
 * The package's launch page (in the LMS, the "LMS origin") frames this player (the product
 * origin) and talks to it with postMessage, explicit origins both ways (never "*"):
 *
 * - launch page -> player, on every load of its iframe:
 *     {type: "dispatch.init", version: 1, scormVersion, packageKey, lms: {...}, limits}
 *   Accepted only from window.parent AND from the LMS origin the server recorded for this launch
 *   (config.dispatch.lmsOrigin, the Origin of the launch request). When the server recorded none,
 *   the first init's origin is pinned and later messages must come from it. Anything else is
 *   ignored (counted in window.DispatchBridge.rejected). The server's state is the full state:
 *   the init's learner data is informational.
 * - player -> launch page (target: the pinned LMS origin), once an init is accepted:
 *     {type: "player.status", version: 1, kind, state: {completion_status, success_status,
 *      score_percent, score_raw, score_max, location, suspend_data}}
 *   at once in answer to the init (the session may have started before it arrived), then for
 *   every state change PlayerBridge publishes (session, commit, quiz). An empty location or
 *   suspend data is sent as null (nothing to write; scorm-again's 2004 runtime refuses an empty
 *   cmi.location). Events before the init are not queued: the init's answer carries the latest.
 *     {type: "player.exit", version: 1}
 *   when the learner is done: a passed quiz (a failed one may be retaken, so the LMS session
 *   stays open) or the imported course's own Finish/Terminate. The launch page then commits and
 *   finishes the LMS session.
 *     {type: "player.stopped", version: 1, reason, message}
 *   when the server refused the player for good (PlayerBridge.stop: e.g. reason
 *   "package_revoked" once the package was revoked, "content_not_available"): the launch page
 *   lists it for the learner and the LMS administrator. The player shows it in its banner too.
 * - launch page -> player after each status it relayed:
 *     {type: "dispatch.result", version: 1, ok, errors: [{element, value, code, text}]}
 *   Errors are shown to the learner in a banner ("Your LMS did not accept ..."); the next fully
 *   accepted relay hides it. The progress itself is safe on the server either way.
 *
 * window.DispatchBridge exposes the bridge's status for diagnostics and tests (changing it
 * changes nothing): lmsOrigin, pinnedByServer, connected, rejected, sent, exited, stopped (the
 * refusal's reason code).
 */
(function () {
  "use strict";

  var EXIT_KINDS = { quiz: true };
  var NAMES = [  // what a learner (and an admin) can make sense of, by CMI element
    [/lesson_status$|completion_status$|success_status$/, "the course status"],
    [/\.score\./, "the score"],
    [/lesson_location$|cmi\.location$/, "your place in the course"],
    [/suspend_data$/, "the saved progress data"],
    [/session_time$/, "the time spent"],
    [/exit$/, "the exit state"]
  ];

  var configNode = document.getElementById("player-config");
  if (!configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  if (config.origin !== "dispatch" || !config.dispatch) { return; }
  if (window.parent === window) { return; }  // not framed: there is no launch page to talk to

  var status = {
    lmsOrigin: config.dispatch.lmsOrigin || null,
    pinnedByServer: !!config.dispatch.lmsOrigin,
    connected: false,
    rejected: 0,
    sent: 0,
    exited: false,
    stopped: null
  };
  window.DispatchBridge = status;

  var lmsOrigin = status.lmsOrigin;  // the truth; `status` is a copy for diagnostics
  var connected = false;
  var exitWanted = false;
  var exited = false;
  var banner = null;

  function post(message) {
    if (!connected || !lmsOrigin) { return; }
    window.parent.postMessage(message, lmsOrigin);
    status.sent += 1;
  }

  function stateOf(state) {
    state = state || {};
    return {
      completion_status: state.completion_status || null,
      success_status: state.success_status || null,
      score_percent: typeof state.score_percent === "number" ? state.score_percent : null,
      score_raw: typeof state.score_raw === "number" ? state.score_raw : null,
      score_max: typeof state.score_max === "number" ? state.score_max : null,
      // An empty place or data is not sent: nothing to keep, and some LMSs (scorm-again's 2004
      // runtime) refuse an empty cmi.location with error 406.
      location: typeof state.location === "string" && state.location ? state.location : null,
      suspend_data: typeof state.suspend_data === "string" && state.suspend_data ? state.suspend_data : null
    };
  }

  function sendStatus(kind, state) {
    post({ type: "player.status", version: 1, kind: kind, state: stateOf(state) });
  }

  function sendExit() {
    if (exited) { return; }
    if (!connected) { exitWanted = true; return; }  // sent right after the init's answer
    exited = true;
    status.exited = true;
    post({ type: "player.exit", version: 1 });
  }

  // ------------------------------------------------------------ the banner

  function nameOf(element) {
    for (var i = 0; i < NAMES.length; i += 1) {
      if (NAMES[i][0].test(element)) { return NAMES[i][1]; }
    }
    return element;
  }

  function bannerNode() {
    if (banner) { return banner; }
    banner = document.createElement("p");
    banner.id = "dispatch-notice";
    banner.className = "notice warn";
    banner.setAttribute("role", "alert");
    banner.hidden = true;
    var anchor = document.getElementById("player-notice");
    if (anchor && anchor.parentNode) {
      anchor.parentNode.insertBefore(banner, anchor.nextSibling);
    } else {
      document.body.insertBefore(banner, document.body.firstChild);
    }
    return banner;
  }

  function describe(error) {
    var value = typeof error.value === "string" ? error.value : "";
    if (value.length > 40) { value = value.slice(0, 40) + "\u2026"; }
    var code = error.code ? "error " + error.code + (error.text ? ", " + error.text : "") : (error.text || "");
    return nameOf(String(error.element || "")) + " (" + error.element + " = " + JSON.stringify(value) +
      (code ? ": " + code : "") + ")";
  }

  /** The server refused the player for good (a revoked package...): say so, tell the launch page. */
  function showStopped(error) {
    error = error || {};
    var text = (error.message || "This course cannot be used any more.") + " " +
      (error.ask || "Ask your LMS administrator.");
    var node = bannerNode();
    node.textContent = text;
    node.className = "notice error";
    node.hidden = false;
    status.stopped = error.code || "stopped";
    post({ type: "player.stopped", version: 1, reason: String(error.code || ""), message: text });
  }

  function showResult(data) {
    if (status.stopped) { return; }  // the refusal stays on screen
    var errors = (Array.isArray(data.errors) ? data.errors : [])
      .filter(function (e) { return e && typeof e === "object"; });
    if (data.ok === true || !errors.length) {
      if (banner && data.ok === true) { banner.hidden = true; }
      return;
    }
    var node = bannerNode();
    var shown = errors.slice(0, 3).map(describe).join("; ");
    if (errors.length > 3) { shown += "; and " + (errors.length - 3) + " more"; }
    node.textContent = "Your LMS did not accept " + shown + ". Your progress is saved by the course; " +
      "if this message stays, tell your LMS administrator.";
    node.hidden = false;
    if (window.console) { window.console.warn("[dispatch] the LMS refused:", errors); }
  }

  // ------------------------------------------------------------ messages from the launch page

  function fromLaunchPage(event) {
    if (event.source !== window.parent) { return false; }
    if (lmsOrigin) { return event.origin === lmsOrigin; }
    return typeof event.origin === "string" && /^https?:\/\//.test(event.origin);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data !== "object" || data.version !== 1 || typeof data.type !== "string") { return; }
    if (data.type !== "dispatch.init" && data.type !== "dispatch.result") { return; }
    if (!fromLaunchPage(event) || (data.type === "dispatch.result" && !connected)) {
      status.rejected += 1;
      if (window.console) {
        window.console.warn("[dispatch] ignored " + data.type + " from " + event.origin +
                            (event.source !== window.parent ? " (not the launch page)" : ""));
      }
      return;
    }
    if (data.type === "dispatch.init") {
      if (!lmsOrigin) { lmsOrigin = event.origin; status.lmsOrigin = lmsOrigin; }
      connected = true;
      status.connected = true;
      var bridge = window.PlayerBridge;
      sendStatus("init", bridge ? bridge.state() : config.state);
      if (bridge && bridge.stopped) { showStopped(bridge.stopped); }
      if (exitWanted && !exited) { sendExit(); }
    } else {
      showResult(data);
    }
  });

  // ------------------------------------------------------------ the player's events

  /** An imported course's own Finish/Terminate (scorm-again's listener, after its last commit). */
  function watchRuntime() {
    if (!config.scormVersion) { return; }
    var api = config.scormVersion === "scorm2004" ? window.API_1484_11 : window.API;
    if (!api || typeof api.on !== "function" || api.__dispatchWatched) { return; }
    api.__dispatchWatched = true;
    api.on(config.scormVersion === "scorm2004" ? "Terminate" : "LMSFinish", function () {
      setTimeout(sendExit, 0);
    });
  }

  function attach(bridge) {
    bridge.subscribe(function (message) {
      if (message.kind === "stopped") { showStopped(message.error); return; }
      sendStatus(message.kind, message.state);
      if (message.kind === "session") { setTimeout(watchRuntime, 0); }  // the runtime starts right after
      if (EXIT_KINDS[message.kind] && message.state && message.state.success_status === "passed") { sendExit(); }
    });
  }

  if (window.PlayerBridge) {
    attach(window.PlayerBridge);
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      if (window.PlayerBridge) { attach(window.PlayerBridge); }
    });
  }
})();
