from sqlalchemy import Engine

from config import load_settings
from lti_tool import create_app
from lti_tool.services import services_of


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
