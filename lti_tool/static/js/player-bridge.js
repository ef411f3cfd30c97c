/* PlayerBridge: the hook both course players (demo lessons: player.js; SCORM content:
 * scorm-player.js) publish every state change the server confirmed to. SCORM dispatch
 * (dispatch-bridge.js) subscribes and relays to the package page in the LMS window.
 *
 *   var bridge = createPlayerBridge(config, function () { return latestState; });
 *   bridge.subscribe(fn)  -> unsubscribe function; fn gets {kind, courseId, origin, state, sessionSeconds}
 *   bridge.publish(kind, state, sessionSeconds)
 *   bridge.stop(error)    -> the server refused the player for good (error: {status, code, message,
 *                            ask}, e.g. code "package_revoked"); subscribers get kind "stopped" and
 *                            the error; nothing is saved after it
 *   bridge.state()        -> the latest confirmed state
 */
(function () {
  "use strict";

  window.createPlayerBridge = function (config, currentState) {
    var bridge = {
      origin: config.origin,
      courseId: config.courseId,
      subscribers: [],
      /** Receive every confirmed state change; returns a function that unsubscribes. */
      subscribe: function (fn) {
        bridge.subscribers.push(fn);
        return function () {
          bridge.subscribers = bridge.subscribers.filter(function (f) { return f !== fn; });
        };
      },
      publish: function (kind, newState, sessionSeconds) {
        var message = { kind: kind, courseId: config.courseId, origin: config.origin,
                        state: newState, sessionSeconds: sessionSeconds || 0 };
        bridge.subscribers.slice().forEach(function (fn) {
          try { fn(message); } catch (err) { if (window.console) { console.error(err); } }
        });
      },
      /** The server refused this player for good: tell the subscribers once. */
      stop: function (error) {
        if (bridge.stopped) { return; }
        bridge.stopped = error || {};
        var message = { kind: "stopped", courseId: config.courseId, origin: config.origin,
                        state: currentState(), sessionSeconds: 0, error: bridge.stopped };
        bridge.subscribers.slice().forEach(function (fn) {
          try { fn(message); } catch (err) { if (window.console) { console.error(err); } }
        });
      },
      stopped: null,
      /** The latest state the server confirmed. */
      state: currentState
    };
    window.PlayerBridge = bridge;
    return bridge;
  };
}());
