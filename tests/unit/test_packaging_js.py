"""dispatch.js's DispatchCmi gives exactly what scorm_packages/cmi.py gives, on the same inputs
(run with Node; the launch page's browser flow is covered by the browser test)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scorm_packages import cmi
from scorm_packages.packaging import ASSETS_DIR

NODE = shutil.which("node") or shutil.which("nodejs")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (needed to run dispatch.js)")

RUNNER = r"""
const fs = require("fs");
const vm = require("vm");
const context = {};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), context, {filename: "dispatch.js"});
const Cmi = context.DispatchCmi;
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const out = cases.map(([fn, args]) => {
  if (fn === "values") { return Cmi.values(args[0], args[1], args[2]); }
  if (fn === "sessionTime") { return Cmi.sessionTime(args[0], args[1]); }
  if (fn === "limit") { return Cmi.limit(args[0], args[1], args[2]); }
  if (fn === "exitValue") { return Cmi.exitValue(args[0], args[1]); }
  throw new Error("unknown " + fn);
});
process.stdout.write(JSON.stringify(out));
"""


def python(fn: str, args: list[Any]) -> Any:
    if fn == "values":
        return [list(pair) for pair in cmi.cmi_values(*args)]
    if fn == "sessionTime":
        return cmi.session_time(*args)
    if fn == "limit":
        return cmi.limit(*args)
    return cmi.exit_value(*args)


def run_js(cases: list[list[Any]], tmp_path: Path) -> list[Any]:
    runner = tmp_path / "runner.js"
    runner.write_text(RUNNER, encoding="utf-8")
    assert NODE is not None
    done = subprocess.run([NODE, str(runner), str(ASSETS_DIR / "dispatch.js")], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cases() -> list[list[Any]]:
    rng = random.Random(4)
    alphabet = "ab\u00e9\u65e5\U0001F600 {}\"\\"
    out: list[list[Any]] = []
    for fmt in ("scorm12", "scorm2004"):
        for seconds in (0, 0.004, 0.005, 1.5, 59.999, 90, 3599.995, 3723.25, 86400 * 3 + 0.1, 10**8, -1):
            out.append(["sessionTime", [fmt, seconds]])
        for field, size in (("location", 255), ("location", 1000), ("suspend_data", 4096), ("suspend_data", 64000)):
            for extra in (-1, 0, 1, 2):
                text = "".join(rng.choice(alphabet) for _ in range(max(0, size + extra)))
                out.append(["limit", [fmt, field, text]])
        for _ in range(60):
            state: dict[str, Any] = {
                "completion_status": rng.choice(["completed", "incomplete", "not attempted", None, "bogus"]),
                "success_status": rng.choice(["passed", "failed", "unknown", None]),
                "score_percent": rng.choice([None, 0, 100, 83.333, 80.255, 99.995, 12.5, 250, -3]),
                "score_raw": rng.choice([None, 3, 7.5, 0]),
                "score_max": rng.choice([None, 4, 10, 0]),
                "location": rng.choice([None, "lesson-2", "q" * 300]),
                "suspend_data": rng.choice([None, "", '{"visited":["a"]}', "\U0001F600" * 2100]),
            }
            out.append(["values", [fmt, state, rng.choice([0, 12.345, 90, 4000.5])]])
            out.append(["exitValue", [fmt, state]])
    return out


def test_js_helpers_match_python(tmp_path: Path) -> None:
    inputs = cases()
    results = run_js(inputs, tmp_path)
    assert len(results) == len(inputs)
    mismatches = [(fn, args, js, python(fn, args)) for (fn, args), js in zip(inputs, results, strict=True)
                  if js != python(fn, args)]
    assert not mismatches, mismatches[:3]
