/* LTI Platform Storage ("LTI Client Side postMessages") for the OIDC login and the launch.
 *
 * Login page: probe lti.capabilities on the frame the LMS named (lti_storage_target), store the
 * login's browser-binding value with lti.put_data, then go to the LMS authorization URL. When the
 * LMS does not answer (e.g. Canvas mobile apps) the state cookie is the way; when cookies are
 * blocked too, offer to open the tool in a new window (where cookies are first-party). A login
 * opened top-level for a registration not reviewed yet waits for a click (no open redirect).
 * Launch page (no state cookie arrived): read the value back with lti.get_data and post it with
 * the id_token; the server compares it with what it derived for this login's state.
 *
 * Every message goes to the platform origin only (never the wildcard); replies are accepted only from that
 * origin and only with the random message_id of our request.
 */
(function () {
  "use strict";

  var configElement = document.getElementById("lti-config");
  if (!configElement) {
    return;
  }
  var cfg = JSON.parse(configElement.textContent);
  var TIMEOUT_MS = cfg.timeoutMs || 2500;

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function frameNamed(name) {
    try {
      if (!name || name === "_parent") {
        return window.parent !== window ? window.parent : null;
      }
      return window.parent.frames[name] || null;
    } catch (error) {
      return null;
    }
  }

  // Send one LTI postMessage to `target` and wait for its ".response".
  function ask(target, message, timeoutMs) {
    return new Promise(function (resolve, reject) {
      var messageId = randomId();
      var expectedSubject = message.subject + ".response";
      var timer = window.setTimeout(function () {
        stop();
        reject(new Error("no answer to " + message.subject));
      }, timeoutMs);

      function stop() {
        window.clearTimeout(timer);
        window.removeEventListener("message", onMessage);
      }

      function onMessage(event) {
        if (event.origin !== cfg.platformOrigin) {
          return;
        }
        var data = event.data;
        if (!data || typeof data !== "object" || data.subject !== expectedSubject ||
            data.message_id !== messageId) {
          return;
        }
        stop();
        if (data.error) {
          reject(new Error(message.subject + " failed: " + (data.error.message || data.error.code || "error")));
        } else {
          resolve(data);
        }
      }

      window.addEventListener("message", onMessage);
      var payload = {message_id: messageId};
      Object.keys(message).forEach(function (key) {
        payload[key] = message[key];
      });
      try {
        target.postMessage(payload, cfg.platformOrigin);
      } catch (error) {
        stop();
        reject(error);
      }
    });
  }

  // The window to send lti.put_data / lti.get_data to, found by probing lti.capabilities.
  function storageWindow() {
    var target = frameNamed(cfg.storageTarget);
    if (!target) {
      return Promise.reject(new Error("the LMS frame named for platform storage is not there"));
    }
    return ask(target, {subject: "lti.capabilities"}, TIMEOUT_MS).then(function (reply) {
      var supported = Array.isArray(reply.supported_messages) ? reply.supported_messages : [];
      function find(subject) {
        for (var i = 0; i < supported.length; i++) {
          if (supported[i] && supported[i].subject === subject) {
            return supported[i];
          }
        }
        return null;
      }
      var put = find("lti.put_data");
      var get = find("lti.get_data");
      if (!put || !get) {
        throw new Error("the LMS does not offer platform storage");
      }
      var frame = put.frame ? frameNamed(put.frame) : target;
      if (!frame) {
        throw new Error("the LMS storage frame is not there");
      }
      return frame;
    });
  }

  function show(id) {
    var element = document.getElementById(id);
    if (element) {
      element.hidden = false;
    }
  }

  function setStatus(text) {
    var element = document.getElementById("lti-status");
    if (element) {
      element.textContent = text;
    }
  }

  function cookiesWork() {
    try {
      var probe = "lti_cookie_probe=" + randomId();
      document.cookie = probe + "; path=/; SameSite=None; Secure";
      var works = document.cookie.indexOf(probe) !== -1;
      document.cookie = "lti_cookie_probe=; path=/; max-age=0; SameSite=None; Secure";
      return works;
    } catch (error) {
      return false;
    }
  }

  function isTopLevel() {
    try {
      return window.top === window.self;
    } catch (error) {
      return false;
    }
  }

  function login() {
    var stored = cfg.storageTarget
      ? storageWindow().then(function (frame) {
          return ask(frame, {subject: "lti.put_data", key: cfg.storageKey, value: cfg.storageValue}, TIMEOUT_MS);
        }).then(function () { return true; }, function () { return false; })
      : Promise.resolve(false);
    stored.then(function (viaStorage) {
      if (viaStorage || cookiesWork()) {
        if (cfg.confirmTopLevel && isTopLevel()) {
          // A registration the vendor has not reviewed yet chose this login URL itself: the tool
          // never sends a top-level window there without the user's click.
          setStatus("");
          show("lti-continue");
        } else {
          window.location.replace(cfg.authUrl);
        }
      } else {
        setStatus("This page cannot keep your login safe inside the LMS window.");
        show("lti-new-window");
      }
    });
  }

  function launch() {
    storageWindow().then(function (frame) {
      return ask(frame, {subject: "lti.get_data", key: cfg.storageKey}, TIMEOUT_MS);
    }).then(function (reply) {
      if (typeof reply.value !== "string" || !reply.value) {
        throw new Error("nothing stored for this login");
      }
      document.getElementById("lti-storage-state").value = reply.value;
      document.getElementById("lti-launch-form").submit();
    }).catch(function () {
      setStatus("This launch could not be confirmed in this browser.");
      show("lti-launch-failed");
    });
  }

  if (cfg.mode === "login") {
    login();
  } else if (cfg.mode === "launch") {
    launch();
  }
})();
