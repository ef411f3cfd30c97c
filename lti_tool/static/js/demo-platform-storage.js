/* Demo LMS: the platform side of LTI Platform Storage ("LTI Client Side postMessages").
 *
 * install({toolOrigin, frameName, where, log}) answers, in this window, the messages a tool
 * frame sends to its LMS:
 *   lti.capabilities -> the supported subjects, put/get naming the storage frame (frameName);
 *   lti.put_data {key, value} -> stored; the response echoes key and value;
 *   lti.get_data {key} -> the value stored by the same origin, or a bad_request error.
 * Only messages from toolOrigin (the tool registered with this LMS) are answered; a reply goes
 * to that exact origin (never "*"), to the window that asked, echoing its message_id. Values are
 * kept per tool origin in this tab's sessionStorage (the demo page and its storage frame share
 * it), in memory when sessionStorage is unavailable.
 */
(function () {
  "use strict";

  var MAX_KEY_CHARS = 1024;
  var MAX_VALUE_CHARS = 16384;
  var PREFIX = "demo-lti-storage|";

  function install(opts) {
    var memory = {};
    var prefix = PREFIX + opts.toolOrigin + "|";
    var log = opts.log || function () {};

    function storage() {
      try {
        return window.sessionStorage;
      } catch (error) {
        return null;
      }
    }

    function put(key, value) {
      var s = storage();
      if (s) {
        try {
          s.setItem(prefix + key, value);
          return;
        } catch (error) {
          /* quota or privacy mode: keep it in memory */
        }
      }
      memory[key] = value;
    }

    function get(key) {
      var s = storage();
      var value = s ? s.getItem(prefix + key) : null;
      if (value === null && Object.prototype.hasOwnProperty.call(memory, key)) {
        value = memory[key];
      }
      return value;
    }

    function short(text) {
      text = String(text);
      return text.length > 24 ? text.slice(0, 24) + "…" : text;
    }

    function answer(data) {
      var reply = {subject: data.subject + ".response", message_id: data.message_id};
      var key = data.key;
      if (data.subject === "lti.capabilities") {
        reply.supported_messages = [
          {subject: "lti.capabilities"},
          {subject: "lti.put_data", frame: opts.frameName},
          {subject: "lti.get_data", frame: opts.frameName}
        ];
        return [reply, "capabilities: put_data/get_data in frame " + opts.frameName];
      }
      if (data.subject === "lti.put_data" || data.subject === "lti.get_data") {
        if (typeof key !== "string" || !key || key.length > MAX_KEY_CHARS) {
          reply.error = {code: "bad_request", message: "key must be a non-empty string"};
          return [reply, data.subject + ": refused (no valid key)"];
        }
        if (data.subject === "lti.put_data") {
          if (typeof data.value !== "string" || data.value.length > MAX_VALUE_CHARS) {
            reply.error = {code: "bad_request", message: "value must be a string of at most " +
              MAX_VALUE_CHARS + " characters"};
            return [reply, "put_data " + key + ": refused (value)"];
          }
          put(key, data.value);
          reply.key = key;
          reply.value = data.value;
          return [reply, "put_data " + key + " = " + short(data.value)];
        }
        var value = get(key);
        if (value === null || value === undefined) {
          reply.error = {code: "bad_request", message: "nothing is stored under this key"};
          return [reply, "get_data " + key + ": nothing stored"];
        }
        reply.key = key;
        reply.value = value;
        return [reply, "get_data " + key + " -> " + short(value)];
      }
      reply.error = {code: "unsupported_subject", message: "this LMS does not support " + data.subject};
      return [reply, data.subject + ": unsupported"];
    }

    window.addEventListener("message", function (event) {
      var data = event.data;
      if (!data || typeof data !== "object" || typeof data.subject !== "string" ||
          data.subject.indexOf("lti.") !== 0 || /\.response$/.test(data.subject)) {
        return;
      }
      if (event.origin !== opts.toolOrigin) {
        log("[" + opts.where + "] ignored " + data.subject + " from " + event.origin + " (not the tool's origin)");
        return;
      }
      if (!event.source || (typeof data.message_id !== "string" && typeof data.message_id !== "number")) {
        return;
      }
      var result = answer(data);
      event.source.postMessage(result[0], event.origin);
      log("[" + opts.where + "] " + result[1]);
    });
  }

  window.DemoPlatformStorage = {install: install};
})();
