"""Small generated SCORM content packages (a manifest built with lxml + an HTML SCO), for the
demo seed and the tests: they go through the same import code as a publisher's zip.

The SCO has a few pages and a quiz, and uses the SCORM API as real courses do: it finds the
API by walking up its parents (``API`` for 1.2, ``API_1484_11`` for 2004), initializes, reads
the learner's name, entry, location and suspend data (resuming at the saved page), saves the
page as location and the pages seen and answers as suspend data, grades the quiz itself and
reports score and status, then finishes with exit "suspend" (not finished yet) or normally.
Each API call's result is checked and an error is shown on the page with GetLastError's code.

Packages are deterministic (fixed zip timestamps): the same arguments give the same bytes, so
the content store keeps one copy however often the demo is seeded.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from dataclasses import dataclass

from lxml import etree

CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
ADLSEQ = "http://www.adlnet.org/xsd/adlseq_v1p3"
ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"
IMSSS = "http://www.imsglobal.org/xsd/imsss"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
ZIP_TIME = (2026, 1, 1, 0, 0, 0)
FOLDER = "content/"


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    choices: tuple[tuple[str, str], ...]  # (id, text)
    answer: str


DEFAULT_QUESTIONS = (
    Question("q1", "What should you do first when the fire alarm sounds?",
             (("a", "Leave by the nearest safe exit"), ("b", "Finish the task at hand"), ("c", "Use the lift")), "a"),
    Question("q2", "Where do you go after leaving the building?",
             (("a", "Back to your desk"), ("b", "To the assembly point"), ("c", "To the car park exit")), "b"),
    Question("q3", "Who may tell you it is safe to go back in?",
             (("a", "Any colleague"), ("b", "Nobody: wait an hour"), ("c", "The fire warden")), "c"),
)


def _pages(title: str, count: int) -> list[tuple[str, str]]:
    texts = [
        "Welcome. This short course shows how a course reports its progress to the learning platform.",
        "Each page you open is saved as your location, so you come back to it next time.",
        "The pages you have seen and your answers are saved as suspend data.",
        "The quiz at the end is graded by the course itself; it reports your score and whether you passed.",
        "When you leave before finishing, the course remembers where you were.",
    ]
    return [(f"{title}: part {i + 1}", texts[i % len(texts)]) for i in range(count)]


def sco_html(version: str, title: str, pages: int = 3, questions: tuple[Question, ...] = DEFAULT_QUESTIONS,
             mastery_percent: int = 80) -> str:
    config = {
        "version": version, "title": title, "masteryPercent": mastery_percent,
        "pages": [{"title": t, "text": x} for t, x in _pages(title, pages)],
        "questions": [{"id": q.id, "prompt": q.prompt, "choices": [list(c) for c in q.choices], "answer": q.answer}
                      for q in questions],
    }
    # JSON inside <script>: escape "<" so no "</script>" can end it early.
    config_json = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="course.css">
</head>
<body>
<main>
  <h1 id="sco-title">{html.escape(title)}</h1>
  <p id="sco-greeting" class="muted"></p>
  <p id="sco-error" class="error" role="alert" hidden></p>
  <section id="sco-page" aria-live="polite"></section>
  <form id="sco-quiz" hidden></form>
  <p id="sco-result" role="status"></p>
  <nav class="row">
    <button type="button" id="sco-prev">Previous</button>
    <button type="button" id="sco-next">Next</button>
    <button type="button" id="sco-finish">Save and close</button>
  </nav>
</main>
<script type="application/json" id="sco-config">{config_json}</script>
<script src="course.js"></script>
</body>
</html>
"""


SCO_CSS = """body { font: 16px/1.5 system-ui, sans-serif; margin: 0; padding: 1rem; color: #1b1b1b; }
main { max-width: 46rem; margin: 0 auto; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: 1rem; }
button { font: inherit; padding: .4rem .9rem; }
.error { color: #8a1c1c; }
.muted { color: #555; }
fieldset { margin: 0 0 1rem; }
"""

SCO_JS = r"""(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("sco-config").textContent);
  var is2004 = cfg.version === "scorm2004";
  var E = is2004 ? {
    name: "cmi.learner_name", entry: "cmi.entry", location: "cmi.location", suspend: "cmi.suspend_data",
    raw: "cmi.score.raw", min: "cmi.score.min", max: "cmi.score.max", session: "cmi.session_time", exit: "cmi.exit"
  } : {
    name: "cmi.core.student_name", entry: "cmi.core.entry", location: "cmi.core.lesson_location",
    suspend: "cmi.suspend_data", raw: "cmi.core.score.raw", min: "cmi.core.score.min",
    max: "cmi.core.score.max", session: "cmi.core.session_time", exit: "cmi.core.exit"
  };
  var started = Date.now();
  var finished = false;
  var page = 0;            // 0..pages-1, pages = the quiz
  var seen = [];
  var answers = {};
  var passed = null;

  function findApi(win) {
    var name = is2004 ? "API_1484_11" : "API";
    for (var depth = 0; win && depth < 10; depth += 1) {
      try { if (win[name]) { return win[name]; } } catch (err) { /* another origin: keep walking */ }
      if (!win.parent || win.parent === win) { break; }
      win = win.parent;
    }
    try { if (window.opener) { return findApi(window.opener); } } catch (err2) { /* ignore */ }
    return null;
  }
  var api = findApi(window);

  function showError(what) {
    var node = document.getElementById("sco-error");
    var code = api ? (is2004 ? api.GetLastError() : api.LMSGetLastError()) : "no API";
    node.textContent = what + " failed (error " + code + ")";
    node.hidden = false;
  }
  function check(result, what) {
    if (String(result) !== "true") { showError(what); return false; }
    return true;
  }
  function get(element) { return api ? String(is2004 ? api.GetValue(element) : api.LMSGetValue(element)) : ""; }
  function set(element, value) {
    if (!api) { return false; }
    return check(is2004 ? api.SetValue(element, String(value)) : api.LMSSetValue(element, String(value)),
                 "SetValue(" + element + ")");
  }
  function commit() { return api ? check(is2004 ? api.Commit("") : api.LMSCommit(""), "Commit") : false; }

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function sessionTime() {
    var cs = Math.floor((Date.now() - started) / 10);
    var h = Math.floor(cs / 360000), m = Math.floor(cs / 6000) % 60, s = Math.floor(cs / 100) % 60, c = cs % 100;
    if (is2004) { return "PT" + h + "H" + m + "M" + s + "." + two(c) + "S"; }
    return (h < 1000 ? ("000" + h).slice(-4) : String(h)) + ":" + two(m) + ":" + two(s) + "." + two(c);
  }

  function save() {
    set(E.location, "page-" + (page + 1));
    set(E.suspend, JSON.stringify({ seen: seen, answers: answers }));
    set(E.session, sessionTime());
    commit();
  }

  function render() {
    var section = document.getElementById("sco-page");
    var quiz = document.getElementById("sco-quiz");
    var last = cfg.pages.length;
    if (seen.indexOf(page) < 0) { seen.push(page); }
    document.getElementById("sco-prev").disabled = page === 0;
    document.getElementById("sco-next").hidden = page >= last;
    if (page < last) {
      quiz.hidden = true;
      section.innerHTML = "";
      var h = document.createElement("h2");
      h.textContent = cfg.pages[page].title;
      var p = document.createElement("p");
      p.textContent = cfg.pages[page].text;
      section.appendChild(h);
      section.appendChild(p);
    } else {
      section.innerHTML = "<h2>Quiz</h2>";
      renderQuiz(quiz);
      quiz.hidden = false;
    }
  }

  function renderQuiz(quiz) {
    quiz.innerHTML = "";
    cfg.questions.forEach(function (q) {
      var fs = document.createElement("fieldset");
      var legend = document.createElement("legend");
      legend.textContent = q.prompt;
      fs.appendChild(legend);
      q.choices.forEach(function (choice) {
        var label = document.createElement("label");
        var input = document.createElement("input");
        input.type = "radio";
        input.name = q.id;
        input.value = choice[0];
        input.checked = answers[q.id] === choice[0];
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + choice[1]));
        fs.appendChild(label);
        fs.appendChild(document.createElement("br"));
      });
      quiz.appendChild(fs);
    });
    var submit = document.createElement("button");
    submit.type = "submit";
    submit.id = "sco-submit";
    submit.textContent = "Submit answers";
    quiz.appendChild(submit);
  }

  function grade(event) {
    event.preventDefault();
    var right = 0;
    cfg.questions.forEach(function (q) {
      var chosen = document.querySelector("input[name='" + q.id + "']:checked");
      answers[q.id] = chosen ? chosen.value : "";
      if (answers[q.id] === q.answer) { right += 1; }
    });
    var percent = Math.round(100 * right / cfg.questions.length);
    passed = percent >= cfg.masteryPercent;
    set(E.raw, percent);
    set(E.min, 0);
    set(E.max, 100);
    if (is2004) {
      set("cmi.score.scaled", percent / 100);
      set("cmi.completion_status", "completed");
      set("cmi.success_status", passed ? "passed" : "failed");
    } else {
      set("cmi.core.lesson_status", passed ? "passed" : "failed");
    }
    save();
    document.getElementById("sco-result").textContent =
      "Score: " + percent + "% \u2014 " + (passed ? "passed" : "not passed");
  }

  function finish() {
    if (finished || !api) { return; }
    finished = true;
    set(E.exit, passed === null ? "suspend" : (is2004 ? "normal" : ""));
    set(E.session, sessionTime());
    check(is2004 ? api.Terminate("") : api.LMSFinish(""), "Finish");
    document.getElementById("sco-result").textContent += " Your progress is saved: you may close this course.";
  }

  if (!api) {
    document.getElementById("sco-error").textContent = "The course cannot find the SCORM API of the LMS.";
    document.getElementById("sco-error").hidden = false;
    return;
  }
  if (!check(is2004 ? api.Initialize("") : api.LMSInitialize(""), "Initialize")) { return; }
  var name = get(E.name);
  document.getElementById("sco-greeting").textContent = name ? "Hello, " + name + "." : "";
  if (get(E.entry) === "resume") {
    try {
      var saved = JSON.parse(get(E.suspend) || "{}");
      seen = Array.isArray(saved.seen) ? saved.seen : [];
      answers = saved.answers && typeof saved.answers === "object" ? saved.answers : {};
    } catch (err) { seen = []; }
    var match = /^page-(\d+)$/.exec(get(E.location));
    if (match) { page = Math.min(Number(match[1]) - 1, cfg.pages.length); }
  }
  document.getElementById("sco-prev").addEventListener("click", function () { page = Math.max(0, page - 1); render(); save(); });
  document.getElementById("sco-next").addEventListener("click", function () { page = Math.min(cfg.pages.length, page + 1); render(); save(); });
  document.getElementById("sco-finish").addEventListener("click", finish);
  document.getElementById("sco-quiz").addEventListener("submit", grade);
  window.addEventListener("pagehide", finish);
  render();
  save();
})();
"""


def _manifest_12(identifier: str, title: str, mastery_percent: int | None, launch_data: str | None,
                 parameters: str | None, files: list[str]) -> bytes:
    nsmap = {None: CP12, "adlcp": ADLCP12, "xsi": XSI}
    root = etree.Element(f"{{{CP12}}}manifest", nsmap=nsmap, identifier=identifier, version="1.0")
    root.set(f"{{{XSI}}}schemaLocation", f"{CP12} imscp_rootv1p1p2.xsd {ADLCP12} adlcp_rootv1p2.xsd")
    metadata = etree.SubElement(root, f"{{{CP12}}}metadata")
    etree.SubElement(metadata, f"{{{CP12}}}schema").text = "ADL SCORM"
    etree.SubElement(metadata, f"{{{CP12}}}schemaversion").text = "1.2"
    orgs = etree.SubElement(root, f"{{{CP12}}}organizations", default="ORG-1")
    org = etree.SubElement(orgs, f"{{{CP12}}}organization", identifier="ORG-1")
    etree.SubElement(org, f"{{{CP12}}}title").text = title
    item = etree.SubElement(org, f"{{{CP12}}}item", identifier="ITEM-1", identifierref="RES-1", isvisible="true")
    if parameters:
        item.set("parameters", parameters)
    etree.SubElement(item, f"{{{CP12}}}title").text = title
    if launch_data:
        etree.SubElement(item, f"{{{ADLCP12}}}datafromlms").text = launch_data
    if mastery_percent is not None:
        etree.SubElement(item, f"{{{ADLCP12}}}masteryscore").text = str(mastery_percent)
    resources = etree.SubElement(root, f"{{{CP12}}}resources")
    resources.set(XML_BASE, FOLDER)
    resource = etree.SubElement(resources, f"{{{CP12}}}resource", identifier="RES-1", type="webcontent",
                                href="index.html")
    resource.set(f"{{{ADLCP12}}}scormtype", "sco")
    for name in files:
        etree.SubElement(resource, f"{{{CP12}}}file", href=name)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _manifest_2004(identifier: str, title: str, mastery_percent: int | None, launch_data: str | None,
                   parameters: str | None, files: list[str]) -> bytes:
    nsmap = {None: CP2004, "adlcp": ADLCP2004, "adlseq": ADLSEQ, "adlnav": ADLNAV, "imsss": IMSSS, "xsi": XSI}
    root = etree.Element(f"{{{CP2004}}}manifest", nsmap=nsmap, identifier=identifier, version="1")
    root.set(f"{{{XSI}}}schemaLocation",
             f"{CP2004} imscp_v1p1.xsd {ADLCP2004} adlcp_v1p3.xsd {ADLSEQ} adlseq_v1p3.xsd "
             f"{ADLNAV} adlnav_v1p3.xsd {IMSSS} imsss_v1p0.xsd")
    metadata = etree.SubElement(root, f"{{{CP2004}}}metadata")
    etree.SubElement(metadata, f"{{{CP2004}}}schema").text = "ADL SCORM"
    etree.SubElement(metadata, f"{{{CP2004}}}schemaversion").text = "2004 4th Edition"
    orgs = etree.SubElement(root, f"{{{CP2004}}}organizations", default="ORG-1")
    org = etree.SubElement(orgs, f"{{{CP2004}}}organization", identifier="ORG-1")
    etree.SubElement(org, f"{{{CP2004}}}title").text = title
    item = etree.SubElement(org, f"{{{CP2004}}}item", identifier="ITEM-1", identifierref="RES-1")
    if parameters:
        item.set("parameters", parameters)
    etree.SubElement(item, f"{{{CP2004}}}title").text = title
    if launch_data:
        etree.SubElement(item, f"{{{ADLCP2004}}}dataFromLMS").text = launch_data
    if mastery_percent is not None:
        sequencing = etree.SubElement(item, f"{{{IMSSS}}}sequencing")
        objectives = etree.SubElement(sequencing, f"{{{IMSSS}}}objectives")
        primary = etree.SubElement(objectives, f"{{{IMSSS}}}primaryObjective", objectiveID="PRIMARY",
                                   satisfiedByMeasure="true")
        etree.SubElement(primary, f"{{{IMSSS}}}minNormalizedMeasure").text = f"{mastery_percent / 100:g}"
    resources = etree.SubElement(root, f"{{{CP2004}}}resources")
    resource = etree.SubElement(resources, f"{{{CP2004}}}resource", identifier="RES-1", type="webcontent",
                                href="index.html")
    resource.set(XML_BASE, FOLDER)
    resource.set(f"{{{ADLCP2004}}}scormType", "sco")
    for name in files:
        etree.SubElement(resource, f"{{{CP2004}}}file", href=name)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def build_manifest(version: str, *, title: str, identifier: str = "GENERATED-COURSE", mastery_percent: int | None = 80,
                   launch_data: str | None = None, parameters: str | None = None,
                   files: tuple[str, ...] = ("index.html", "course.js", "course.css")) -> bytes:
    if version == "scorm12":
        return _manifest_12(identifier, title, mastery_percent, launch_data, parameters, list(files))
    if version == "scorm2004":
        return _manifest_2004(identifier, title, mastery_percent, launch_data, parameters, list(files))
    raise ValueError(f"version must be scorm12 or scorm2004, got {version!r}")


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A deterministic zip of (path → bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def build_package(version: str, *, title: str = "Fire safety basics", identifier: str = "GENERATED-COURSE",
                  pages: int = 3, mastery_percent: int | None = 80, launch_data: str | None = None,
                  parameters: str | None = None) -> bytes:
    """A complete SCORM 1.2 or 2004 package (zip bytes) with the demo SCO."""
    files = {
        "index.html": sco_html(version, title, pages, mastery_percent=80 if mastery_percent is None else mastery_percent)
        .encode("utf-8"),
        "course.js": SCO_JS.encode("utf-8"),
        "course.css": SCO_CSS.encode("utf-8"),
    }
    manifest = build_manifest(version, title=title, identifier=identifier, mastery_percent=mastery_percent,
                              launch_data=launch_data, parameters=parameters, files=tuple(files))
    entries = {"imsmanifest.xml": manifest}
    entries.update({FOLDER + name: data for name, data in files.items()})
    return zip_bytes(entries)
