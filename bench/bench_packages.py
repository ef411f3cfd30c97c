"""SCORM packages: the product's build rate against simple-scorm-packager in the same run, and a full
export of a large account.

1. Rate. On SQLite (and PostgreSQL with BENCH_DATABASE_URL): a demo catalog, a Plus subscription,
   then BENCH_PACKAGES (default 2,000) packages with new package keys, half SCORM 1.2 and half
   SCORM 2004 (``scorm_packages.service.build_package_zip``: the license check, the key and the
   zip, written to disk). The baseline: the npm package simple-scorm-packager (bench/node, installed
   by ``make bench``) building BENCH_SSP_PACKAGES (default 300) zips per format of the same files
   (the launch page and script of one of our packages) in the same run. Target: at least 20x.
2. Export. A BENCH_EXPORT_COURSES-course demo catalog (default 40,000) on SQLite, a Plus
   subscription, and ``lti-tool packages export --license-type plus --format scorm12`` run as a
   user would: wall time and the process's peak memory (ru_maxrss). Targets: under a minute and
   200 MB for 40,000 courses.
It never asserts on time.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.lti_setup import fresh_database, product_env  # noqa: E402
from bench.table import row  # noqa: E402
from config import load_settings  # noqa: E402
from scorm_packages import service  # noqa: E402
from store.accounts.service import create_account  # noqa: E402
from store.catalog.demo import import_demo_catalog  # noqa: E402
from store.catalog.models import Course  # noqa: E402
from store.licenses import service as licenses  # noqa: E402

PACKAGES = int(os.environ.get("BENCH_PACKAGES", "2000"))
SSP_PACKAGES = int(os.environ.get("BENCH_SSP_PACKAGES", "300"))
EXPORT_COURSES = int(os.environ.get("BENCH_EXPORT_COURSES", "40000"))
NODE_DIR = ROOT / "bench" / "node"
SSP_VERSIONS = {"scorm12": "1.2", "scorm2004": "2004 4th Edition"}
BASE_URL = "https://tool.bench.example"


def _database(url: str, courses: int) -> tuple[object, int, list[str]]:
    _engine, sessions = fresh_database(url)
    now = datetime.now(UTC)
    import_demo_catalog(sessions, courses, 7, now)
    account = create_account(sessions, "Bench Org", now)
    licenses.grant_plus(sessions, account.id, 10, "annual", now)
    with sessions() as s:
        plus = list(s.scalars(select(Course.catalog_id).where(Course.is_plus.is_(True), Course.status == "active")
                              .order_by(Course.catalog_id)))
    return sessions, account.id, plus


def product_rate(url: str, label: str, out: Path) -> dict[str, float]:
    sessions, account_id, plus = _database(url, max(PACKAGES * 2, 400))
    settings = load_settings(product_env(url, BASE_URL, "bench-secret-" + "x" * 40))
    per_format = PACKAGES // 2
    if len(plus) < per_format:
        raise SystemExit(f"only {len(plus)} Plus courses for {per_format} packages per format")
    rates: dict[str, float] = {}
    sample: bytes = b""
    for fmt in ("scorm12", "scorm2004"):
        start = time.perf_counter()
        for catalog_id in plus[:per_format]:
            _prepared, built = service.build_package_zip(sessions, settings, account_id, catalog_id, "plus", fmt,
                                                         datetime.now(UTC), base_url=BASE_URL)
            (out / f"{fmt}-{built.filename}").write_bytes(built.data)
            sample = built.data
        rates[fmt] = per_format / (time.perf_counter() - start)
        print(f"  product ({label}) {fmt:<10} {per_format} packages (new keys) {rates[fmt]:8.1f}/s", flush=True)
    sessions.kw["bind"].dispose()  # type: ignore[attr-defined]
    (out / "sample.zip").write_bytes(sample)
    return rates


def baseline_rate(sample_zip: Path, work: Path) -> dict[str, float]:
    """simple-scorm-packager building zips of our package's own files (manifest and schemas are its
    own to write)."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "simple-scorm-packager").is_dir():
        print("  simple-scorm-packager is not installed (make bench installs it under bench/node): no baseline")
        return {}
    rates: dict[str, float] = {}
    for fmt, version in SSP_VERSIONS.items():
        source = work / f"ssp-source-{fmt}"
        source.mkdir()
        with zipfile.ZipFile(io.BytesIO(sample_zip.read_bytes())) as z:
            for name in z.namelist():
                if not name.endswith((".xsd", ".dtd", "imsmanifest.xml")):
                    z.extract(name, source)
        if not (source / "index.html").exists():  # its startingPage
            html = next(source.rglob("*.html"))
            shutil.copy(html, source / "index.html")
        outdir = work / f"ssp-out-{fmt}"
        done = subprocess.run([node, str(NODE_DIR / "ssp_build.js"), str(source), str(outdir), str(SSP_PACKAGES),
                               version], cwd=NODE_DIR, capture_output=True, text=True, check=True)
        seconds = float(done.stdout.strip().splitlines()[-1])
        rates[fmt] = SSP_PACKAGES / seconds
        print(f"  simple-scorm-packager {fmt:<10} {SSP_PACKAGES} packages {rates[fmt]:8.1f}/s", flush=True)
    return rates


def export_run(work: Path) -> None:
    url = f"sqlite:///{work / 'export.db'}"
    start = time.perf_counter()
    sessions, account_id, plus = _database(url, EXPORT_COURSES)
    print(f"  export: {EXPORT_COURSES} demo courses imported in {time.perf_counter() - start:.1f} s; "
          f"{len(plus)} Plus courses", flush=True)
    sessions.kw["bind"].dispose()  # type: ignore[attr-defined]
    env = {**os.environ, **product_env(url, BASE_URL, "bench-secret-" + "x" * 40)}
    lti_tool = str(Path(sys.executable).with_name("lti-tool"))
    out = work / "export"
    start = time.perf_counter()
    process = subprocess.Popen([lti_tool, "packages", "export", "--account", str(account_id), "--format", "scorm12",
                                "--license-type", "plus", "-o", str(out)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    last = process.stdout.read().decode().strip().splitlines()[-1:] if process.stdout else []
    written = sum(1 for p in out.iterdir() if p.suffix == ".zip") if out.exists() else 0
    print(f"  export (SQLite): {written} packages in {seconds:.1f} s ({written / seconds:.0f}/s), peak memory "
          f"{usage.ru_maxrss / 1024:.0f} MB, exit {os.waitstatus_to_exitcode(status)}; {' '.join(last)}")
    row(f"export of {written} Plus packages ({EXPORT_COURSES}-course catalog, SQLite)",
        f"{seconds:.0f} s, {usage.ru_maxrss / 1024:.0f} MB peak", "—", "target: 40,000 courses < 60 s, < 200 MB")
    print(f"  export targets: under 60 s for 40,000 courses ({seconds * 40000 / max(EXPORT_COURSES, 1):.0f} s "
          f"scaled), under 200 MB")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-packages-") as tmp:
        work = Path(tmp)
        (work / "product").mkdir()
        product = {"SQLite": product_rate(f"sqlite:///{work / 'rate.db'}", "SQLite", work / "product")}
        if os.environ.get("BENCH_DATABASE_URL"):
            shutil.rmtree(work / "product")
            (work / "product").mkdir()
            product["PostgreSQL"] = product_rate(os.environ["BENCH_DATABASE_URL"], "PostgreSQL", work / "product")
        base = baseline_rate(work / "product" / "sample.zip", work)
        for label, rates in product.items():
            for fmt, rate in rates.items():
                ratio = f"{rate / base[fmt]:6.1f}x" if fmt in base else "   n/a"
                print(f"  ratio {label:<10} {fmt:<10} {ratio} simple-scorm-packager's rate (target >= 20x)")
                row(f"packages/s, new keys, {'SCORM 1.2' if fmt == 'scorm12' else 'SCORM 2004'} ({label})",
                    f"{rate:.0f}/s", f"simple-scorm-packager {base[fmt]:.0f}/s" if fmt in base else "n/a",
                    ratio.strip() + " (target 20x)")
        export_run(work)


if __name__ == "__main__":
    main()
