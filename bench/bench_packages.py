"""SCORM packages: the product's build rate against simple-scorm-packager in the same run, and a full
export of a large account.

1. Rate. On SQLite (and PostgreSQL with BENCH_DATABASE_URL): a demo catalog, a Plus subscription,
   then BENCH_PACKAGES (default 2,000) packages with new package keys, half SCORM 1.2 and half
   SCORM 2004 (the license check, the key and the zip, written to disk), built two ways: one at a
   time (``scorm_packages.service.build_package_zip``: a transaction per package, as
   ``lti-tool packages build``) and batched (``prepare_packages`` for all the courses in one
   transaction, then each zip: the dashboard's Download Packages; the export works the same way).
   The baseline: the npm package simple-scorm-packager (bench/node, installed by ``make bench``)
   building BENCH_SSP_PACKAGES (default 300) zips per format of the same files
   (the launch page and script of one of our packages) in the same run. Target: at least 20x.
2. Export. A BENCH_EXPORT_COURSES-course demo catalog (default 40,000) on SQLite, a Plus
   subscription, and ``lti-tool packages export --license-type plus --format scorm12`` run as a
   user would, once into one zip of zips (``-o export.zip``) and once into a folder (new keys
   each time); with BENCH_DATABASE_URL also on PostgreSQL into one zip of zips: wall time and
   the process's peak memory (ru_maxrss). Targets: under a minute and 200 MB for 40,000 courses.
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
from config import Settings, load_settings  # noqa: E402
from scorm_packages import service  # noqa: E402
from scorm_packages.packaging import build_package  # noqa: E402
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


def _database(url: str, courses: int) -> tuple[object, list[int], list[str]]:
    """A demo catalog and two accounts with a Plus subscription (one per way of building, so
    both make new keys for the same courses)."""
    _engine, sessions = fresh_database(url)
    now = datetime.now(UTC)
    import_demo_catalog(sessions, courses, 7, now)
    accounts = []
    for name in ("Bench Org", "Bench Org (batched)"):
        account = create_account(sessions, name, now)
        licenses.grant_plus(sessions, account.id, 10, "annual", now)
        accounts.append(account.id)
    with sessions() as s:
        plus = list(s.scalars(select(Course.catalog_id).where(Course.is_plus.is_(True), Course.status == "active")
                              .order_by(Course.catalog_id)))
    return sessions, accounts, plus


def _one_at_a_time(sessions: object, settings: Settings, account_id: int, catalog_ids: list[str], fmt: str,
                   out: Path) -> bytes:
    """``build_package_zip`` per course: one transaction each (``lti-tool packages build``)."""
    data = b""
    for catalog_id in catalog_ids:
        _prepared, built = service.build_package_zip(sessions, settings, account_id, catalog_id, "plus", fmt,
                                                     datetime.now(UTC), base_url=BASE_URL)
        (out / f"{fmt}-{built.filename}").write_bytes(built.data)
        data = built.data
    return data


def _batched(sessions: object, settings: Settings, account_id: int, catalog_ids: list[str], fmt: str,
             out: Path) -> bytes:
    """``prepare_packages`` for every course in one transaction, then each zip (the dashboard's
    Download Packages; the export works the same way)."""
    data = b""
    prepared = service.prepare_packages(sessions, settings, account_id, [(c, "plus") for c in catalog_ids], fmt,
                                        datetime.now(UTC))
    for item in prepared:
        built = build_package(item.spec(BASE_URL))
        (out / f"{fmt}-batch-{built.filename}").write_bytes(built.data)
        data = built.data
    return data


WAYS = {"one at a time": _one_at_a_time, "batched": _batched}


def product_rate(url: str, label: str, out: Path) -> dict[tuple[str, str], float]:
    sessions, accounts, plus = _database(url, max(PACKAGES * 2, 400))
    settings = load_settings(product_env(url, BASE_URL, "bench-secret-" + "x" * 40))
    per_format = PACKAGES // 2
    if len(plus) < per_format:
        raise SystemExit(f"only {len(plus)} Plus courses for {per_format} packages per format")
    rates: dict[tuple[str, str], float] = {}
    sample: bytes = b""
    for (way, build), account_id in zip(WAYS.items(), accounts, strict=True):
        for fmt in ("scorm12", "scorm2004"):
            os.sync()  # the writes of the run before (and the database's) do not land in this one's time
            start = time.perf_counter()
            sample = build(sessions, settings, account_id, plus[:per_format], fmt, out)
            rates[way, fmt] = per_format / (time.perf_counter() - start)
            print(f"  product ({label}) {way:<13} {fmt:<10} {per_format} packages (new keys) "
                  f"{rates[way, fmt]:8.1f}/s", flush=True)
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
        os.sync()  # as for the product: start from no pending writes
        done = subprocess.run([node, str(NODE_DIR / "ssp_build.js"), str(source), str(outdir), str(SSP_PACKAGES),
                               version], cwd=NODE_DIR, capture_output=True, text=True, check=True)
        seconds = float(done.stdout.strip().splitlines()[-1])
        rates[fmt] = SSP_PACKAGES / seconds
        print(f"  simple-scorm-packager {fmt:<10} {SSP_PACKAGES} packages {rates[fmt]:8.1f}/s", flush=True)
    return rates


def _export(work: Path, env: dict[str, str], account_id: int, target: Path) -> tuple[float, float, int, str]:
    """``lti-tool packages export`` as a user runs it: (seconds, peak MB, exit status, last line)."""
    lti_tool = str(Path(sys.executable).with_name("lti-tool"))
    start = time.perf_counter()
    process = subprocess.Popen([lti_tool, "packages", "export", "--account", str(account_id), "--format", "scorm12",
                                "--license-type", "plus", "-o", str(target)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    last = process.stdout.read().decode().strip().splitlines()[-1:] if process.stdout else []
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), " ".join(last)


def _written(target: Path) -> int:
    if target.suffix == ".zip":
        with zipfile.ZipFile(target) as archive:
            return sum(1 for name in archive.namelist() if name.endswith(".zip"))
    return sum(1 for p in target.iterdir() if p.suffix == ".zip")


def export_run(work: Path, url: str, label: str, folder_too: bool) -> None:
    start = time.perf_counter()
    sessions, accounts, plus = _database(url, EXPORT_COURSES)
    print(f"  export ({label}): {EXPORT_COURSES} demo courses imported in {time.perf_counter() - start:.1f} s; "
          f"{len(plus)} Plus courses", flush=True)
    sessions.kw["bind"].dispose()  # type: ignore[attr-defined]
    env = {**os.environ, **product_env(url, BASE_URL, "bench-secret-" + "x" * 40)}
    # New keys into one zip of zips (account 1), then new keys into a folder (account 2).
    runs = [(accounts[0], work / f"export-{label}.zip", "one zip of zips")]
    if folder_too:
        runs.append((accounts[1], work / f"export-{label}", "a folder"))
    for account_id, target, what in runs:
        seconds, peak, status, last = _export(work, env, account_id, target)
        written = _written(target) if target.exists() else 0
        print(f"  export ({label}) to {what}: {written} packages in {seconds:.1f} s ({written / seconds:.0f}/s), "
              f"peak memory {peak:.0f} MB, exit {status}; {last}")
        row(f"export of {written} Plus packages to {what} ({EXPORT_COURSES}-course catalog, {label})",
            f"{seconds:.0f} s, {peak:.0f} MB peak", "—", "target: 40,000 courses < 60 s, < 200 MB")
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
            for (way, fmt), rate in rates.items():
                ratio = f"{rate / base[fmt]:6.1f}x" if fmt in base else "   n/a"
                print(f"  ratio {label:<10} {way:<13} {fmt:<10} {ratio} simple-scorm-packager's rate (target >= 20x)")
                row(f"packages/s, new keys, {way}, {'SCORM 1.2' if fmt == 'scorm12' else 'SCORM 2004'} ({label})",
                    f"{rate:.0f}/s", f"simple-scorm-packager {base[fmt]:.0f}/s" if fmt in base else "n/a",
                    ratio.strip() + " (target 20x)")
        # The export once, on the production database when there is one (each run imports 40,000
        # courses first: ~35 s); SQLite too, and into a folder, with BENCH_EXPORT_ALL=1.
        every = os.environ.get("BENCH_EXPORT_ALL") == "1"
        if every or not os.environ.get("BENCH_DATABASE_URL"):
            export_run(work, f"sqlite:///{work / 'export.db'}", "SQLite", folder_too=every)
        if os.environ.get("BENCH_DATABASE_URL"):
            export_run(work, os.environ["BENCH_DATABASE_URL"], "PostgreSQL", folder_too=False)


if __name__ == "__main__":
    main()
