"""A stub LMS on its own origin, for browser tests of SCORM dispatch packages.

``serve_stub_lms()`` starts a real local HTTP server (werkzeug, 127.0.0.1, a free port, its own
thread) and gives a ``StubLms`` whose ``url`` is ``http://localhost:PORT``: another *site* than a
product served on ``http://127.0.0.1:...``, yet a secure context (the launch page signs its token
with WebCrypto, which needs one). It serves:

- ``/lms/<name>?learner=ID&learner_name=NAME[&reject=ELEMENT]``: an LMS page that hosts
  scorm-again from npm (the file installed under ``lti_tool/static/vendor/node_modules``) as the
  LMS API (``window.API = new Scorm12API(...)`` or ``window.API_1484_11 = new Scorm2004API(...)``,
  loaded with the learner id and name and the manifest's mastery score) and opens the package's
  ``index.html`` in an iframe, as an LMS does. Every Initialize/Commit/Finish/Terminate is
  appended to ``window.lmsEvents``, every SetValue to ``window.lmsSets`` as ``[element, value,
  result]`` (write-only elements such as session time cannot be read back from scorm-again).
  ``reject`` makes the LMS refuse every SetValue of that
  element (``"false"``, error 405 in 1.2 / 406 in 2004), to test how refusals are shown.
  Each load is a fresh LMS registration (nothing persists between loads, as with LMSs that make
  a new registration per launch).
- ``/packages/<name>/<file>``: the files of a package zip added with ``add_package``.
- ``/scorm-again/scorm12.min.js`` and ``/scorm-again/scorm2004.min.js``.
- ``/blank``: an empty page of this origin (a test can script it as another site).

Nothing is mocked: the package's own ``index.html``, ``config.js`` and ``dispatch.js`` run as built.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

RUNTIME_DIR = (Path(__file__).resolve().parents[2] / "lti_tool" / "static" / "vendor" / "node_modules"
               / "scorm-again" / "dist")
RUNTIMES = {"scorm12": "scorm12.min.js", "scorm2004": "scorm2004.min.js"}
MASTERY = {"scorm12": ("cmi.student_data.mastery_score", "80"), "scorm2004": ("cmi.scaled_passing_score", "0.8")}
LEARNER = {"scorm12": ("cmi.core.student_id", "cmi.core.student_name"),
           "scorm2004": ("cmi.learner_id", "cmi.learner_name")}
REJECT_CODE = {"scorm12": 405, "scorm2004": 406}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".xml": "application/xml"}

LMS_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("lms-data").textContent);
  var is2004 = data.version === "scorm2004";
  var api = is2004 ? new Scorm2004API({ autocommit: false, logLevel: 4 })
                   : new Scorm12API({ autocommit: false, logLevel: 4 });
  api.loadFromFlattenedJSON(data.cmi);
  window.lmsEvents = [];
  (is2004 ? ["Initialize", "Commit", "Terminate"] : ["LMSInitialize", "LMSCommit", "LMSFinish"])
    .forEach(function (name) { api.on(name, function () { window.lmsEvents.push(name); }); });
  window.lmsSets = [];
  var setName = is2004 ? "SetValue" : "LMSSetValue";
  var original = api[setName];
  api[setName] = function (element, value) {
    var result;
    if (data.reject && element === data.reject) {
      api.throwSCORMError(element, data.rejectCode, "the stub LMS refuses " + element);
      result = "false";
    } else {
      result = original.apply(api, arguments);
    }
    window.lmsSets.push([element, String(value), String(result)]);
    return result;
  };
  if (is2004) { window.API_1484_11 = api; } else { window.API = api; }
  var frame = document.createElement("iframe");
  frame.id = "sco";
  frame.title = "Course";
  frame.src = data.launch;
  document.body.appendChild(frame);
})();
"""


def _json_for_script(value: Any) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def lms_page(version: str, launch_url: str, learner_id: str, learner_name: str, reject: str | None = None) -> str:
    """The LMS page for a package of ``version`` (scorm12/scorm2004) launched at ``launch_url``."""
    id_element, name_element = LEARNER[version]
    mastery_element, mastery = MASTERY[version]
    data = {"version": version, "launch": launch_url, "reject": reject or None, "rejectCode": REJECT_CODE[version],
            "cmi": {id_element: learner_id, name_element: learner_name, mastery_element: mastery}}
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Stub LMS</title>
<style>body {{ margin: 0; font-family: sans-serif; }} #sco {{ width: 100%; height: 760px; border: 0; }}</style>
<script type="application/json" id="lms-data">{_json_for_script(data)}</script>
<script src="/scorm-again/{RUNTIMES[version]}"></script>
</head>
<body>
<h1>Stub LMS</h1>
<script>{LMS_SCRIPT}</script>
</body>
</html>
"""


@dataclass
class StubLms:
    url: str  # http://localhost:PORT
    port: int
    packages: dict[str, tuple[str, dict[str, bytes]]] = field(default_factory=dict)

    def add_package(self, name: str, version: str, zip_bytes: bytes) -> None:
        """Upload a package zip (``version``: scorm12 or scorm2004) under ``name``."""
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            files = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
        self.packages[name] = (version, files)

    def page_url(self, name: str, learner_id: str, learner_name: str = "", reject: str | None = None) -> str:
        query = {"learner": learner_id, "learner_name": learner_name}
        if reject:
            query["reject"] = reject
        return f"{self.url}/lms/{name}?{urlencode(query)}"

    # ------------------------------------------------------------ the WSGI app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self._respond(Request(environ))(environ, start_response)

    def _respond(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/", 2)
        if request.method != "GET":
            return Response("method not allowed\n", 405)
        if parts[0] == "blank" and len(parts) == 1:
            return Response("<!doctype html><title>Another site</title><body></body>", 200, content_type=TYPES[".html"])
        if parts[0] == "scorm-again" and len(parts) == 2 and parts[1] in RUNTIMES.values():
            return Response((RUNTIME_DIR / parts[1]).read_bytes(), 200, content_type=TYPES[".js"])
        if parts[0] == "lms" and len(parts) == 2 and parts[1] in self.packages:
            version, _files = self.packages[parts[1]]
            html = lms_page(version, f"/packages/{parts[1]}/index.html", request.args.get("learner", ""),
                            request.args.get("learner_name", ""), request.args.get("reject"))
            return Response(html, 200, content_type=TYPES[".html"], headers={"Cache-Control": "no-store"})
        if parts[0] == "packages" and len(parts) == 3 and parts[1] in self.packages:
            _version, files = self.packages[parts[1]]
            if parts[2] in files:
                suffix = Path(parts[2]).suffix
                return Response(files[parts[2]], 200, content_type=TYPES.get(suffix, "application/octet-stream"),
                                headers={"Cache-Control": "no-store"})
        return Response("not found\n", 404)


@contextmanager
def serve_stub_lms() -> Iterator[StubLms]:
    """A ``StubLms`` served on a free port of 127.0.0.1, addressed as ``http://localhost:PORT``.
    Close the pages using it before leaving the block (shutting down waits for requests)."""
    missing = [name for name in RUNTIMES.values() if not (RUNTIME_DIR / name).is_file()]
    if missing:
        raise RuntimeError(f"scorm-again is not installed under {RUNTIME_DIR} (run `make install`)")
    holder: dict[str, StubLms] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["lms"](environ, start_response)

    server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi, threaded=True)
    server.daemon_threads = False  # type: ignore[attr-defined]
    holder["lms"] = StubLms(f"http://localhost:{server.server_port}", server.server_port)
    thread = threading.Thread(target=server.serve_forever, name="stub-lms", daemon=True)
    thread.start()
    try:
        yield holder["lms"]
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
