/* The course player's script. No cookies: the token from the page's config goes in an
 * Authorization header (and in the body of sendBeacon, which cannot set headers).
 *
 * - Navigation between lessons and the quiz happens in the page; each move is saved with a
 *   debounced commit (location, visited places as suspend data, time spent since the last
 *   commit), plus a heartbeat every minute while the page is visible.
 * - Time counts only while the page is visible; it is sent as session time and the server adds
 *   it to the total.
 * - When the page is hidden or left (visibilitychange, pagehide) the final state goes to the
 *   server with navigator.sendBeacon: no synchronous request on unload.
 * - The quiz is graded by the server: the page sends the chosen answers, never a score; the
 *   answer gives the score, pass/fail and how many were right, never which.
 *
 * PlayerBridge (window.PlayerBridge) is the hook for SCORM dispatch: every state change the
 * server confirms is published to its subscribers as
 *   {kind: "session" | "commit" | "quiz", courseId, origin, state: {location, suspend_data,
 *    completion_status, success_status, score_raw, score_max, score_percent,
 *    total_time_seconds, session_count}, sessionSeconds}
 * (created by player-bridge.js). When the grant's origin is "dispatch", dispatch-bridge.js
 * subscribes and relays each change to the SCORM launch page with parent.postMessage(message,
 * <the launch page's exact origin>) — never "*".
 */
(function () {
  "use strict";

  var COMMIT_DELAY_MS = 1500;
  var HEARTBEAT_MS = 60000;
  var RETRY_MS = 10000;

  var configNode = document.getElementById("player-config");
  if (!configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var token = config.token;
  var state = config.state;
  var location = config.location;
  var visited = readVisited(state.suspend_data);
  var stopped = false;        // set when the server refuses the token or seat
  var dirty = false;          // location/visited changed since the last confirmed commit
  var inFlight = false;
  var again = false;          // another commit was asked while one was in flight
  var commitTimer = null;
  var activeMs = 0;           // visible time not yet sent
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;

  // ------------------------------------------------------------ PlayerBridge (dispatch hook)

  var PlayerBridge = window.createPlayerBridge(config, function () { return state; });

  // ------------------------------------------------------------ time

  function tick() {
    if (visibleSince !== null) {
      var now = Date.now();
      activeMs += Math.max(0, now - visibleSince);
      visibleSince = now;
    }
  }

  /** Whole seconds of visible time not sent yet; the fraction stays for the next commit. */
  function takeSeconds() {
    tick();
    var seconds = Math.floor(activeMs / 1000);
    activeMs -= seconds * 1000;
    return seconds;
  }

  function giveBack(seconds) { activeMs += seconds * 1000; }

  // ------------------------------------------------------------ state and page

  function readVisited(suspendData) {
    try {
      var data = JSON.parse(suspendData || "{}");
      if (data && Array.isArray(data.visited)) {
        return data.visited.filter(function (loc) { return config.locations.indexOf(loc) >= 0; });
      }
    } catch (err) { /* not ours: start afresh */ }
    return [];
  }

  function suspendData() { return JSON.stringify({ visited: visited }); }

  function markVisited(loc) {
    if (visited.indexOf(loc) < 0) { visited.push(loc); dirty = true; }
  }

  function showNotice(text) {
    var notice = document.getElementById("player-notice");
    notice.textContent = text;
    notice.hidden = false;
  }

  /** Done places (lti_tool/player/rules.py done_locations): a lesson once opened, the quiz once
   *  passed; every place when the course is done (completed and not failed, or passed). */
  function donePlaces() {
    if (state.is_done) { return config.locations.slice(); }
    return config.locations.filter(function (loc) {
      return loc === config.quizLocation ? state.success_status === "passed" : visited.indexOf(loc) >= 0;
    });
  }

  function renderStatus() {
    document.getElementById("player-status").textContent = state.label;
    var places = donePlaces();
    var done = places.length;
    var bar = document.getElementById("player-progress");
    var percent = Math.round(100 * done / Math.max(1, config.locations.length));
    bar.value = percent;
    bar.textContent = percent + "%";
    var links = document.querySelectorAll("a[data-goto]");
    Array.prototype.forEach.call(links, function (link) {
      var target = link.getAttribute("data-goto");
      if (link.closest(".player-nav")) {
        link.classList.toggle("visited", places.indexOf(target) >= 0);
        if (target === location) { link.setAttribute("aria-current", "page"); }
        else { link.removeAttribute("aria-current"); }
      }
    });
  }

  function go(loc, focus) {
    if (config.locations.indexOf(loc) < 0) { return; }
    var sections = document.querySelectorAll(".player-section");
    Array.prototype.forEach.call(sections, function (section) {
      section.hidden = section.getAttribute("data-location") !== loc;
    });
    if (loc !== location) { dirty = true; }
    location = loc;
    markVisited(loc);
    renderStatus();
    if (focus) {
      var heading = document.querySelector('.player-section[data-location="' + loc + '"] h2');
      if (heading) { heading.focus(); }
      window.scrollTo(0, 0);
    }
    scheduleCommit();
  }

  // ------------------------------------------------------------ server calls

  function api(url, body, method) {
    return fetch(url, {
      method: method || "POST",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      keepalive: true
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || ("HTTP " + response.status));
          error.status = response.status;
          error.code = data.error || "";
          error.ask = data.ask || "";
          throw error;
        }
        return data;
      });
    });
  }

  function refused(err) {
    // The token expired, the seat is gone or not this learner's, the package was revoked, the
    // content is not available: stop saving and say so (with the server's "ask" when it gave one).
    if (err.status === 401 || err.status === 403 || err.status === 404 || err.status === 409 ||
        err.status === 410) {
      stopped = true;
      showNotice(err.message + " Your progress up to now is saved. " +
                 (err.ask || "Open the course again from your LMS."));
      PlayerBridge.stop({ status: err.status, code: err.code || "", message: err.message, ask: err.ask || "" });
      return true;
    }
    return false;
  }

  function accept(kind, data, seconds) {
    if (data && data.state) {
      state = data.state;
      renderStatus();
      PlayerBridge.publish(kind, state, seconds);
    }
  }

  function commitBody(seconds) {
    return { location: location, suspend_data: suspendData(), session_time_seconds: seconds };
  }

  function scheduleCommit(delay) {
    if (stopped) { return; }
    if (commitTimer) { clearTimeout(commitTimer); }
    commitTimer = setTimeout(commitNow, delay === undefined ? COMMIT_DELAY_MS : delay);
  }

  function commitNow() {
    commitTimer = null;
    if (stopped) { return; }
    if (inFlight) { again = true; return; }
    var seconds = takeSeconds();
    if (!dirty && seconds === 0) { return; }
    inFlight = true;
    var wasDirty = dirty;
    dirty = false;
    api(config.api.commit, commitBody(seconds)).then(function (data) {
      accept("commit", data, seconds);
    }, function (err) {
      if (refused(err)) { return; }
      giveBack(seconds);
      dirty = dirty || wasDirty;
      if (err.status === 400 || err.status === 413) {
        showNotice("Your progress could not be saved: " + err.message);
        return;
      }
      scheduleCommit(RETRY_MS);
    }).then(function () {
      inFlight = false;
      if (again) { again = false; scheduleCommit(0); }
    });
  }

  /** Final state on page hide/leave: sendBeacon, no synchronous request. */
  function flush() {
    if (stopped) { return; }
    if (commitTimer) { clearTimeout(commitTimer); commitTimer = null; }
    var seconds = takeSeconds();
    if (!dirty && seconds === 0) { return; }
    var body = commitBody(seconds);
    body.token = token;
    var payload = JSON.stringify(body);
    var sent = false;
    if (navigator.sendBeacon) {
      sent = navigator.sendBeacon(config.api.beacon, new Blob([payload], { type: "text/plain;charset=UTF-8" }));
    }
    if (!sent) {
      try {
        fetch(config.api.beacon, { method: "POST", body: payload, keepalive: true, credentials: "omit",
                                   headers: { "Content-Type": "text/plain;charset=UTF-8" } });
        sent = true;
      } catch (err) { sent = false; }
    }
    if (sent) { dirty = false; } else { giveBack(seconds); }
  }

  // ------------------------------------------------------------ quiz

  function setupQuiz() {
    var form = document.getElementById("quiz-form");
    if (!form) { return; }
    var message = document.getElementById("quiz-message");
    var result = document.getElementById("quiz-result");
    var submit = document.getElementById("quiz-submit");
    var retake = document.getElementById("quiz-retake");
    var questions = form.querySelectorAll("fieldset[data-question]");

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (stopped) { return; }
      var answers = {};
      var missing = 0;
      Array.prototype.forEach.call(questions, function (fieldset) {
        var id = fieldset.getAttribute("data-question");
        var chosen = fieldset.querySelector("input[type=radio]:checked");
        if (chosen) { answers[id] = chosen.value; } else { missing += 1; }
      });
      if (missing) {
        message.textContent = missing === 1 ? "Answer the last open question first." :
          "Answer every question first (" + missing + " still open).";
        message.hidden = false;
        return;
      }
      message.hidden = true;
      submit.disabled = true;
      var seconds = takeSeconds();
      markVisited("quiz");
      api(config.api.quiz, { answers: answers, session_time_seconds: seconds, location: location,
                             suspend_data: suspendData() }).then(function (data) {
        dirty = false;
        showResult(data.result);
        accept("quiz", data, seconds);
      }, function (err) {
        giveBack(seconds);
        submit.disabled = false;
        if (!refused(err)) {
          message.textContent = "Your answers could not be sent: " + err.message + " Try again.";
          message.hidden = false;
        }
      });
    });

    retake.addEventListener("click", function () {
      form.reset();
      Array.prototype.forEach.call(questions, function (fieldset) {
        Array.prototype.forEach.call(fieldset.querySelectorAll("input"), function (input) { input.disabled = false; });
      });
      result.hidden = true;
      retake.hidden = true;
      submit.hidden = false;
      submit.disabled = false;
      document.getElementById("quiz-title").focus();
    });

    /** The server says how many answers were right, never which: the page marks no question. */
    function showResult(outcome) {
      Array.prototype.forEach.call(questions, function (fieldset) {
        Array.prototype.forEach.call(fieldset.querySelectorAll("input"), function (input) { input.disabled = true; });
      });
      var text = "You scored " + outcome.score_percent + "% (" + outcome.correct + " of " + outcome.total +
        " correct). " + (outcome.passed ? "You passed." :
          "The pass mark is " + config.masteryPercent + "%: review the lessons and retake the quiz.");
      if (!outcome.is_best_score) { text += " Your best score so far is kept."; }
      result.textContent = text;
      result.className = "notice " + (outcome.passed ? "ok" : "warn");
      result.hidden = false;
      submit.hidden = true;
      retake.hidden = false;
      window.scrollTo(0, 0);
      result.focus();
    }
  }

  // ------------------------------------------------------------ wiring

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-goto]") : null;
    if (!link) { return; }
    event.preventDefault();
    go(link.getAttribute("data-goto"), true);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      tick();
      visibleSince = null;
      flush();
    } else {
      visibleSince = Date.now();
    }
  });
  window.addEventListener("pagehide", function () {
    tick();
    visibleSince = null;
    flush();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && document.visibilityState === "visible") { visibleSince = Date.now(); }
  });

  setInterval(function () {
    if (document.visibilityState === "visible") { scheduleCommit(0); }
  }, HEARTBEAT_MS);

  setupQuiz();
  markVisited(location);
  renderStatus();
  api(config.api.session, {}).then(function (data) {
    accept("session", data, 0);
    if (dirty) { scheduleCommit(); }
  }, function (err) {
    if (!refused(err)) { showNotice("The course could not reach the server: " + err.message); }
  });
})();
