from sqlalchemy import Engine

from config import load_settings
from lti_tool import create_app
from lti_tool.services import services_of
from tests.web.conftest import settings_for


def test_healthz_reports_the_database(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    app = create_app(load_settings({"ENV": "test", "DATABASE_URL": url}))
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok", "database": engine.dialect.name}
    finally:
        services_of(app).engine.dispose()


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    app = create_app(load_settings({"ENV": "test", "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "error"


def test_forwarded_headers_count_only_from_trusted_proxies(engine) -> None:  # type: ignore[no-untyped-def]
    from flask import request

    seen: list[tuple[str | None, str]] = []
    for proxies in (0, 1):
        app = create_app(settings_for(engine, trusted_proxies=proxies))

        @app.get("/probe/client")
        def probe() -> str:
            seen.append((request.remote_addr, request.scheme))
            return "ok"

        app.test_client().get("/probe/client", headers={"X-Forwarded-For": "198.51.100.7",
                                                        "X-Forwarded-Proto": "https"})
        services_of(app).engine.dispose()
    assert seen == [("127.0.0.1", "http"), ("198.51.100.7", "https")]
