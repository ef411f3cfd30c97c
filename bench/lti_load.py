"""A load generator that acts as an LTI 1.3 platform, for the launch benchmarks.

It owns a ``TestPlatform`` (its own RSA key; its JWKS served over HTTP by a thread of this process)
and launches learners into a tool the way a browser without scripts would: the OIDC login (a
redirect, or the tool's page with its ``<noscript>`` **Continue** link), the platform's
authorization answered here with a signed id_token, the form-post of the launch, then the tool's
redirects up to the final page. Each learner keeps one cookie jar (``Secure`` cookies are kept
over plain http on 127.0.0.1, as Chromium does on localhost).

Also: a gunicorn process tree started and stopped for a tool under test, and CPU readings of
process trees from /proc (server CPU per launch, PostgreSQL's own CPU).

Used by ``bench_launch.py`` and ``bench_seat_race.py``; never by the product or its tests.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WzRequest
from werkzeug.wrappers import Response as WzResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool.lti.testplatform import TestPlatform  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_HREF = re.compile(r'href="([^"]+)"')
MAX_HOPS = 4


# ---------------------------------------------------------------- HTTP exchanges


@dataclass(frozen=True)
class Reply:
    status: int
    location: str | None
    set_cookies: tuple[str, ...]
    text: str


class Transport(Protocol):
    def send(self, method: str, url: str, *, data: Mapping[str, str] | None, cookie: str) -> Reply: ...


class HttpTransport:
    """Real HTTP with keep-alive, one ``requests.Session`` per thread, no redirects followed."""

    def __init__(self, timeout: float = 30.0) -> None:
        self._local = threading.local()
        self.timeout = timeout

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            s.trust_env = False  # no proxy or netrc lookups per request (~1.7 ms of CPU per launch)
        return s

    def send(self, method: str, url: str, *, data: Mapping[str, str] | None, cookie: str) -> Reply:
        headers = {"Cookie": cookie} if cookie else {}
        r = self._session().request(method, url, data=data, headers=headers, allow_redirects=False,
                                    timeout=self.timeout)
        r.cookies.clear()  # the learner's jar, not the requests session, keeps cookies
        self._session().cookies.clear()
        return Reply(r.status_code, r.headers.get("Location"), tuple(r.raw.headers.getlist("Set-Cookie")), r.text)


class Jar:
    """One learner's cookies: name → value, updated from Set-Cookie headers (deletions included)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def update(self, set_cookies: Iterable[str]) -> None:
        for header in set_cookies:
            parsed = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.values.pop(name, None)
                else:
                    self.values[name] = morsel.value

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.values.items())


# ---------------------------------------------------------------- the platform


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per JWKS fetch is noise here
        pass


@dataclass
class Platform:
    """A TestPlatform whose JWKS is served by a thread on 127.0.0.1."""

    platform: TestPlatform
    jwks_url: str
    _server: Any = None
    _thread: threading.Thread | None = None

    @classmethod
    def start(cls, issuer: str = "https://lms.bench.example") -> Platform:
        platform = TestPlatform(issuer=issuer, client_id="bench-client", deployment_id="bench-deployment")

        def wsgi(environ, start_response):  # type: ignore[no-untyped-def]
            request = WzRequest(environ)
            if request.path == "/jwks":
                response = WzResponse(json.dumps(platform.jwks()), mimetype="application/json")
            else:
                response = WzResponse("not found", status=404)
            return response(environ, start_response)

        server = make_server("127.0.0.1", 0, wsgi, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        jwks_url = f"http://127.0.0.1:{server.server_port}/jwks"
        platform.key_set_url = jwks_url
        return cls(platform, jwks_url, server, thread)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass(frozen=True)
class ToolEndpoints:
    login_url: str
    launch_url: str  # the redirect_uri the tool registers and the target_link_uri


@dataclass(frozen=True)
class LaunchResult:
    ok: bool
    status: int  # the final page's status
    seconds: float
    steps: int
    error: str = ""
    final_url: str = ""
    text: str = ""


def _auth_url_in(reply: Reply, auth_login_url: str) -> str | None:
    if reply.status in (301, 302, 303, 307) and reply.location:
        return reply.location if reply.location.startswith(auth_login_url) else None
    for href in _HREF.findall(reply.text):
        url = html.unescape(href)
        if url.startswith(auth_login_url):
            return url
    return None


def launch_learner(transport: Transport, platform: TestPlatform, tool: ToolEndpoints, jar: Jar, *, sub: str,
                   custom: Mapping[str, str], roles: Sequence[str] | None = None, keep_text: bool = False) -> LaunchResult:
    """One learner's launch, as a browser without scripts: login → authorization → launch →
    the tool's redirects. ``ok`` when the final page is a 200."""
    start = time.perf_counter()
    steps = 0

    def send(method: str, url: str, data: Mapping[str, str] | None = None) -> Reply:
        nonlocal steps
        steps += 1
        reply = transport.send(method, url, data=data, cookie=jar.header())
        jar.update(reply.set_cookies)
        return reply

    try:
        params = platform.login_params(tool.launch_url, login_hint=sub, lti_message_hint="bench")
        reply = send("GET", tool.login_url + "?" + urlencode(params))
        auth_url = _auth_url_in(reply, platform.auth_login_url)
        if auth_url is None:
            return LaunchResult(False, reply.status, time.perf_counter() - start, steps, "login gave no auth URL",
                                text=reply.text[:500])
        options: dict[str, Any] = {"sub": sub, "name": f"Learner {sub}", "email": f"{sub}@bench.example",
                                   "custom": dict(custom), "target_link_uri": tool.launch_url,
                                   "context": {"id": "bench-course", "label": "BENCH", "title": "Bench"}}
        if roles is not None:
            options["roles"] = list(roles)
        answer = platform.authorize(auth_url, tool.launch_url, **options)
        url = answer.action
        reply = send("POST", url, answer.fields)
        for _ in range(MAX_HOPS):
            if reply.status not in (301, 302, 303, 307) or not reply.location:
                break
            url = urljoin(url, reply.location)
            reply = send("GET", url)
        seconds = time.perf_counter() - start
        return LaunchResult(reply.status == 200, reply.status, seconds, steps, "" if reply.status == 200 else
                            f"final status {reply.status}", url, reply.text if keep_text else "")
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not stop
        return LaunchResult(False, 0, time.perf_counter() - start, steps, f"{type(exc).__name__}: {exc}")


@dataclass
class Phase:
    name: str
    results: list[LaunchResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    db_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0  # the load generator's own (it shares the cores with the server)

    @property
    def count(self) -> int:
        return len(self.results)

    @property
    def failures(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    def percentile(self, p: float) -> float:
        times = sorted(r.seconds for r in self.results)
        if not times:
            return 0.0
        return times[min(len(times) - 1, max(0, round(p / 100 * len(times)) - 1))]

    @property
    def rate(self) -> float:
        return self.count / self.wall_seconds if self.wall_seconds else 0.0

    def cpu_ms_per_launch(self, include_db: bool = False) -> float:
        total = self.server_cpu_seconds + (self.db_cpu_seconds if include_db else 0.0)
        return 1000 * total / self.count if self.count else 0.0

    def db_ms_per_launch(self) -> float:
        return 1000 * self.db_cpu_seconds / self.count if self.count else 0.0

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    def first_errors(self, n: int = 3) -> list[str]:
        return [r.error + (f" | {r.text[:200]}" if r.text else "") for r in self.results if not r.ok][:n]


def run_phase(name: str, launches: Sequence[Callable[[], LaunchResult]], concurrency: int,
              cpu_of: Callable[[], float], db_cpu_of: Callable[[], float] = lambda: 0.0) -> Phase:
    """Run every launch at ``concurrency``, with the server's CPU read before and after."""
    phase = Phase(name)
    cpu0, db0, client0 = cpu_of(), db_cpu_of(), time.process_time()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        phase.results = list(pool.map(lambda fn: fn(), launches))
    phase.wall_seconds = time.perf_counter() - start
    phase.server_cpu_seconds = cpu_of() - cpu0
    phase.db_cpu_seconds = db_cpu_of() - db0
    phase.client_cpu_seconds = time.process_time() - client0
    return phase


def summary(phase: Phase) -> str:
    return (f"{phase.name:<34} {phase.count:>5} launches {phase.rate:7.1f}/s  p50 {1000 * phase.percentile(50):6.0f} ms"
            f"  p95 {1000 * phase.percentile(95):6.0f} ms  p99 {1000 * phase.percentile(99):6.0f} ms"
            f"  failures {phase.failures}  server CPU {phase.cpu_ms_per_launch():5.1f} ms/launch"
            + (f" (+ PostgreSQL {phase.db_ms_per_launch():4.1f})" if phase.db_cpu_seconds else "")
            + (f"  load generator {1000 * phase.client_cpu_seconds / phase.count:4.1f} ms" if phase.count else ""))


# ---------------------------------------------------------------- processes and CPU


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'
    return [raw[: raw.index(" (")], raw[raw.index(" (") + 2: raw.rindex(")")]] + raw[raw.rindex(")") + 2:].split()


def _all_stats() -> dict[int, list[str]]:
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                stats[int(entry)] = fields
    return stats


def _cpu(fields: list[str], with_children: bool) -> float:
    # fields: [pid, comm, state, ppid, ...]; utime=13, stime=14, cutime=15, cstime=16 (0-based after comm split)
    ticks = int(fields[13]) + int(fields[14])
    if with_children:
        ticks += int(fields[15]) + int(fields[16])
    return ticks / CLOCK_TICKS


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds used so far by ``root_pid`` and its live descendants (plus reaped children)."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[3]), []).append(pid)
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += _cpu(stats[pid], with_children=True)
        todo.extend(children.get(pid, ()))
    return total


def named_cpu_seconds(name: str) -> float:
    """CPU seconds of every process whose command name starts with ``name`` (e.g. PostgreSQL's
    backends, whoever started them)."""
    return sum(_cpu(f, with_children=False) for f in _all_stats().values() if f[1].startswith(name))


def tree_rss_kib(root_pid: int) -> dict[int, int]:
    """Resident memory (KiB) of each descendant of ``root_pid`` (the workers)."""
    out: dict[int, int] = {}
    for pid, fields in _all_stats().items():
        if int(fields[3]) == root_pid:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[pid] = int(line.split()[1])
            except OSError:
                pass
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A gunicorn process tree serving ``app`` on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @classmethod
    def start(cls, app: str, env: Mapping[str, str], *, workers: int = 2, log_dir: Path,
              ready_path: str = "/", port: int | None = None) -> Served:
        port = port or free_port()
        log_path = log_dir / f"gunicorn-{port}.log"
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        process = subprocess.Popen(
            [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
             "--log-level", "warning", app],
            cwd=ROOT, env={**os.environ, **env}, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        served = cls(process, f"http://127.0.0.1:{port}", log_path)
        served.wait_ready(ready_path)
        return served

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                requests.get(self.base_url + path, timeout=2)
                if len(tree_rss_kib(self.process.pid)) >= 1:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s: {self.log_path.read_text()[-2000:]}")

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0
