// Download Packages for several courses: a progress bar while the zip of zips streams in.
// The server says how large the zip will about be (X-Estimated-Length); the bar follows the bytes
// received against it. Any problem (no fetch streams, an error page, a failed download) falls
// back to submitting the form as usual, which works without this script.
(function () {
  var form = document.getElementById("delivery-download");
  var box = document.getElementById("delivery-progress");
  var bar = document.getElementById("delivery-progress-bar");
  var status = document.getElementById("delivery-progress-status");
  if (!form || !box || !bar || !window.fetch || !window.ReadableStream || !window.URL) { return; }

  function filenameOf(response) {
    var found = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return found ? found[1] : "courses.zip";
  }
  function show(received, estimate) {
    var percent = estimate > 0 ? Math.min(99, Math.floor(received * 100 / estimate)) : 0;
    bar.value = percent;
    status.textContent = percent + " %";
  }
  function save(blob, name) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
  }
  async function read(response) {
    var estimate = parseInt(response.headers.get("X-Estimated-Length") || "0", 10);
    var count = response.headers.get("X-Package-Count") || "";
    var reader = response.body.getReader();
    var parts = [];
    var received = 0;
    for (;;) {
      var step = await reader.read();
      if (step.done) { break; }
      parts.push(step.value);
      received += step.value.length;
      show(received, estimate);
    }
    bar.value = 100;
    status.textContent = "Done: " + count + " packages.";
    save(new Blob(parts, { type: "application/zip" }), filenameOf(response));
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    box.hidden = false;
    bar.value = 0;
    status.textContent = "Starting…";
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/zip") !== 0 || !response.body) { throw new Error("not a zip"); }
        return read(response);
      })
      .catch(function () {
        box.hidden = true;
        form.submit();  // the ordinary download, or the page that says what went wrong
      });
  });
})();
