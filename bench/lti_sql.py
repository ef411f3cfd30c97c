"""SQL per launch, step by step: one first launch and one relaunch of the product driven in-process
(Flask's test client, no cookies kept by the client: the learner's jar is ``bench.lti_load.Jar``),
counting the statements sent and the transactions begun on the app's engine for each request."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from bench.lti_load import Jar, Platform, Reply, ToolEndpoints, launch_learner  # noqa: E402
from bench.lti_setup import prepare_product_database  # noqa: E402
from config import load_settings  # noqa: E402
from lti_tool import create_app  # noqa: E402
from lti_tool.services import services_of  # noqa: E402

BASE_URL = "http://127.0.0.1:5999"


@dataclass
class Counter:
    statements: int = 0
    transactions: int = 0
    steps: list[tuple[str, int, int]] = field(default_factory=list)


class CountingTransport:
    """Sends each request to the app in-process and records the SQL it cost."""

    def __init__(self, app, counter: Counter) -> None:  # type: ignore[no-untyped-def]
        self.client = app.test_client(use_cookies=False)
        self.counter = counter

    def send(self, method: str, url: str, *, data: Mapping[str, str] | None, cookie: str) -> Reply:
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        before = (self.counter.statements, self.counter.transactions)
        response = self.client.open(path, method=method, data=dict(data) if data else None,
                                    headers={"Cookie": cookie} if cookie else {}, base_url=BASE_URL)
        self.counter.steps.append((f"{method} {parts.path}", self.counter.statements - before[0],
                                   self.counter.transactions - before[1]))
        location = response.headers.get("Location")
        return Reply(response.status_code, location, tuple(response.headers.getlist("Set-Cookie")),
                     response.get_data(as_text=True))


def _count(app, counter: Counter) -> None:  # type: ignore[no-untyped-def]
    engine = services_of(app).engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        counter.statements += 1

    @event.listens_for(engine, "begin")
    def _begin(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        counter.transactions += 1


def _report(title: str, counter: Counter) -> list[str]:
    lines = [f"{title}: {counter.statements} statements in {counter.transactions} transactions"]
    lines += [f"    {step:<28} {n:>3} statements {t:>2} transactions" for step, n, t in counter.steps]
    return lines


def count_launch_sql(*, course: str) -> list[str]:
    """One first launch and one relaunch on SQLite (and on BENCH_DATABASE_URL when set)."""
    lines: list[str] = []
    platform = Platform.start()
    urls = []
    with tempfile.TemporaryDirectory(prefix="bench-sql-") as tmp:
        urls.append(("SQLite", f"sqlite:///{Path(tmp) / 'sql.db'}"))
        if os.environ.get("BENCH_DATABASE_URL"):
            urls.append(("PostgreSQL", os.environ["BENCH_DATABASE_URL"]))
        for label, url in urls:
            env = prepare_product_database(url, platform, BASE_URL, seats=10, course=course, workdir=Path(tmp))
            app = create_app(load_settings(env))
            tool = ToolEndpoints(BASE_URL + "/lti/login", BASE_URL + "/lti/launch")
            jar, sub = Jar(), "sql-" + secrets.token_hex(4)
            # Warm-up (keys, JWKS cache, compiled statements), as a running server would be.
            launch_learner(CountingTransport(app, Counter()), platform.platform, tool, Jar(), sub="warm-up",
                           custom={"course_id": course, "license_type": "volume"})
            _count(app, counter := Counter())
            result = launch_learner(CountingTransport(app, counter), platform.platform, tool, jar, sub=sub,
                                    custom={"course_id": course, "license_type": "volume"})
            lines += _report(f"SQL per first launch ({label}){'' if result.ok else ' FAILED: ' + result.error}",
                             counter)
            again = Counter()
            _count(app, again)
            counter.statements = counter.transactions = 0  # the first counter keeps listening: ignore it
            result = launch_learner(CountingTransport(app, again), platform.platform, tool, jar, sub=sub,
                                    custom={"course_id": course, "license_type": "volume"})
            lines += _report(f"SQL per relaunch ({label}){'' if result.ok else ' FAILED: ' + result.error}", again)
            services_of(app).engine.dispose()
    platform.stop()
    return lines


if __name__ == "__main__":
    for line in count_launch_sql(course="BENCH-1"):
        print(line)
