"""Default values for every setting. Environment variables override them (see settings.py)."""

ENVIRONMENTS = ("development", "test", "production")

DEFAULTS: dict[str, str] = {
    # development | test | production. Outside development and test a SECRET_KEY is required.
    "ENV": "development",
    # SQLAlchemy URL. SQLite is the embedded default; PostgreSQL (postgresql+psycopg://...) in production.
    "DATABASE_URL": "sqlite:///var/lti_tool.db",
    "SECRET_KEY": "",
    "HOST": "127.0.0.1",
    "PORT": "5000",
    # Base URL the LMS and SCORM packages use to reach this server.
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    "LOG_LEVEL": "INFO",
    # Seat engine: how long a Pay Per Use seat and a Volume lot last, in months.
    "SEAT_TERM_MONTHS": "12",
    # Price of one Plus seat per term, in cents.
    "PLUS_ANNUAL_SEAT_CENTS": "39900",
    "PLUS_MONTHLY_SEAT_CENTS": "3900",
}
