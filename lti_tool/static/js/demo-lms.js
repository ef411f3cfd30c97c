/* Demo LMS page: the platform side of Platform Storage for the tool frame (also answered by the
 * named storage frame), the launch form's conveniences, the links returned by deep linking, and
 * the live table of the demo account's seats. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("demo-config").textContent);
  var toolFrame = document.getElementById(cfg.toolFrame);
  var LINKS_KEY = "demo-lms-links";

  // ------------------------------------------------------------ message log

  var logList = document.getElementById("demo-log");
  function log(text) {
    var item = document.createElement("li");
    item.textContent = new Date().toLocaleTimeString() + "  " + text;
    logList.appendChild(item);
    while (logList.children.length > 60) {
      logList.removeChild(logList.firstChild);
    }
    logList.scrollTop = logList.scrollHeight;
  }

  if (window.DemoPlatformStorage) {
    window.DemoPlatformStorage.install({
      toolOrigin: cfg.toolOrigin, frameName: cfg.storageFrame, where: "page", log: log
    });
  }

  // ------------------------------------------------------------ form

  var form = document.getElementById("demo-launch");
  var license = document.getElementById("demo-license");
  var course = document.getElementById("demo-course");
  var person = document.getElementById("demo-person");

  course.addEventListener("change", function () {
    var option = course.options[course.selectedIndex];
    if (option && option.dataset.license) {
      license.value = option.dataset.license;
    }
  });

  function randomHex(bytes) {
    var data = new Uint8Array(bytes);
    window.crypto.getRandomValues(data);
    return Array.prototype.map.call(data, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // "New learner": a fresh person, kept in the list so they can launch again.
  person.addEventListener("change", function () {
    if (person.value !== "new") {
      return;
    }
    var suffix = randomHex(4);
    var option = document.createElement("option");
    option.value = "new-" + suffix;
    option.textContent = "New Learner " + suffix.toUpperCase();
    person.insertBefore(option, person.querySelector('option[value="new"]'));
    person.value = option.value;
  });

  // ------------------------------------------------------------ links from deep linking

  var linksSection = document.getElementById("demo-links");
  var linksList = document.getElementById("demo-links-list");

  function loadLinks() {
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(LINKS_KEY) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch (error) {
      return [];
    }
  }

  function saveLinks(links) {
    try {
      window.sessionStorage.setItem(LINKS_KEY, JSON.stringify(links));
    } catch (error) {
      /* kept on the page only */
    }
  }

  var links = loadLinks();

  function launchLink(link) {
    var params = new URLSearchParams({
      kind: "course", role: "learner", person: person.value,
      custom: JSON.stringify(link.custom || {}), url: link.url || ""
    });
    toolFrame.src = cfg.startUrl + "?" + params.toString();
  }

  function renderLinks() {
    linksList.textContent = "";
    links.forEach(function (link, index) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary demo-link-launch";
      button.textContent = "Launch as learner";
      button.addEventListener("click", function () { launchLink(link); });
      var title = document.createElement("strong");
      title.textContent = " " + link.title + " ";
      var params = document.createElement("code");
      params.className = "demo-small";
      params.textContent = Object.keys(link.custom || {}).map(function (k) {
        return k + "=" + link.custom[k];
      }).join(" ");
      item.dataset.index = String(index);
      item.appendChild(button);
      item.appendChild(title);
      item.appendChild(params);
      linksList.appendChild(item);
    });
    linksSection.hidden = links.length === 0;
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== cfg.demoOrigin || !data || typeof data !== "object") {
      return;
    }
    if (data.subject === "demo.log" && typeof data.text === "string") {
      log(data.text);
    } else if (data.subject === "demo.deep_link_items" && Array.isArray(data.items) &&
               event.source === toolFrame.contentWindow) {
      data.items.forEach(function (item) {
        if (item && typeof item.title === "string" && item.custom && typeof item.custom === "object") {
          links.push({title: item.title, url: String(item.url || ""), custom: item.custom});
        }
      });
      saveLinks(links);
      renderLinks();
      log("deep linking returned " + data.items.length + " link(s)");
    }
  });

  renderLinks();

  // ------------------------------------------------------------ seats

  var seatsBody = document.getElementById("demo-seats-body");

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function refreshSeats() {
    fetch(cfg.seatsUrl, {headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) {
          return;
        }
        document.getElementById("demo-seat-count").textContent = String(data.total);
        document.getElementById("demo-seat-valid").textContent = String(data.valid);
        document.getElementById("demo-seat-shown").textContent = String(data.seats.length);
        seatsBody.textContent = "";
        data.seats.forEach(function (seat) {
          var row = document.createElement("tr");
          row.dataset.seat = String(seat.id);
          cell(row, String(seat.id));
          cell(row, (seat.via_demo_lms ? "★ " : "") + seat.learner);
          cell(row, seat.license_label || seat.license_type);
          cell(row, seat.course_id || "(every Plus course)");
          cell(row, String(seat.attempt));
          var since = cell(row, seat.occupied_at);
          if (!seat.is_valid) {
            var badge = document.createElement("span");
            badge.className = "badge";
            badge.textContent = "expired";
            since.appendChild(document.createTextNode(" "));
            since.appendChild(badge);
          }
          seatsBody.appendChild(row);
        });
      })
      .catch(function () { /* the table stays as it was */ });
  }

  document.getElementById("demo-seats-refresh").addEventListener("click", refreshSeats);
  toolFrame.addEventListener("load", refreshSeats);
  form.addEventListener("submit", function (event) {
    var kind = event.submitter && event.submitter.value || "course";
    log("launch (" + kind + ") as " + person.options[person.selectedIndex].textContent);
  });
})();
