"""Default values for every setting. Environment variables override them (see settings.py)."""

ENVIRONMENTS = ("development", "test", "production")

# The product's one name: page titles, the LMS's tool name (install, Dynamic Registration), the README.
PRODUCT_NAME = "Course Licenses"

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
    # ISO 4217 code of the currency every price is in (prices are whole cents of it).
    "CURRENCY": "USD",
    # Price of one Plus seat per term, in cents.
    "PLUS_ANNUAL_SEAT_CENTS": "39900",
    "PLUS_MONTHLY_SEAT_CENTS": "3900",
    # --- LTI 1.3
    # Leeway for exp/iat/nbf of platform id_tokens: LMS clocks drift.
    "LTI_CLOCK_LEEWAY_SECONDS": "60",
    # How long an OIDC login may take before its state/nonce expire.
    "LTI_LOGIN_STATE_TTL_SECONDS": "600",
    # Unknown deployment of a known registration (Canvas sends it at the first launch):
    # "true" accepts it, "false" records it as pending and refuses the launch until approved.
    "LTI_AUTO_ACCEPT_DEPLOYMENTS": "true",
    # How long platform JWKS are trusted before a refetch.
    "LTI_PLATFORM_JWKS_TTL_SECONDS": "3600",
    # A launch signed with a key id the cached JWKS lacks refetches it at most once per
    # registration in this interval (a random kid must not make the tool fetch on every launch).
    "LTI_JWKS_REFETCH_INTERVAL_SECONDS": "60",
    # Dynamic Registration without a staff registration code: attempts per client IP per hour,
    # and in total per hour (counted in the database, so every worker sees them).
    "LTI_REGISTER_PER_IP_PER_HOUR": "10",
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host headers are trusted
    # (0: none; the client address is the socket's). Set it to the number of proxies you run.
    "TRUSTED_PROXIES": "0",
    "LTI_REGISTER_PER_HOUR": "60",
    # Key used to encrypt the tool's private keys at rest; default: derived from SECRET_KEY.
    "KEY_ENCRYPTION_KEY": "",
    # A rotated-out tool key stays in the JWKS this long.
    "TOOL_KEY_OVERLAP_DAYS": "7",
    # Course player links (signed, no cookies) stay valid this long.
    "PLAYER_TOKEN_TTL_SECONDS": "28800",
    # Grade passback: attempts before a score post is marked failed.
    "AGS_MAX_ATTEMPTS": "6",
    # SCORM dispatch: at most this many learners new to one package get a seat per minute.
    "DISPATCH_NEW_LEARNERS_PER_MINUTE": "30",
    # --- Outbound HTTP (store/outbound.py): every request to another server.
    # Total deadline of one request (resolve + connect + TLS + headers + body), in seconds.
    "OUTBOUND_TIMEOUT_SECONDS": "10",
    # Largest answer read, in bytes.
    "OUTBOUND_MAX_BYTES": "1048576",
    # Plain http and private/loopback destinations: on outside production (development, tests),
    # never in production whatever this says.
    "OUTBOUND_ALLOW_PRIVATE": "",
    # The demo LMS at /demo: on in development, never in production.
    "DEMO_PLATFORM": "",
    # Generated demo lessons and quiz for courses without imported content: on in development
    # and test, never in production (there such a course is "not available yet").
    "DEMO_CONTENT": "",
    # --- Mail (store/mail): "outbox" keeps every message in the mail_outbox table (the embedded
    # default; `lti-tool mail outbox` shows it); "smtp" sends through an SMTP server and records
    # each message there with its status.
    "MAIL_BACKEND": "outbox",
    # Sender address; default: no-reply@<the host of PUBLIC_BASE_URL>.
    "MAIL_FROM": "",
    "SMTP_HOST": "",
    "SMTP_PORT": "587",
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    # STARTTLS after connecting (port 587); SMTP_SSL: TLS from the first byte (port 465) instead.
    "SMTP_STARTTLS": "true",
    "SMTP_SSL": "false",
    # Total deadline of one message (resolve, connect, TLS, login and sending together), seconds.
    "SMTP_TIMEOUT_SECONDS": "10",
    # --- Independent learners (sign-in at /store/signin)
    # Sign-in attempts per email address and per client address (IPv6: per /64) per hour.
    "SIGNIN_PER_EMAIL_PER_HOUR": "10",
    "SIGNIN_PER_IP_PER_HOUR": "50",
    # Password reset links: valid this long, and at most this many mailed per email address per hour.
    "PASSWORD_RESET_TTL_SECONDS": "3600",
    "PASSWORD_RESET_PER_EMAIL_PER_HOUR": "3",
    # --- Payments (store/payments)
    # Which payment gateway charges cards: "local" (the embedded gateway, a processor's test
    # mode: test cards only, its own ledger tables) or "stripe" (needs the two keys below).
    "PAYMENT_GATEWAY": "local",
    # Stripe API keys (secret: sk_..., publishable: pk_...); required when PAYMENT_GATEWAY=stripe.
    "STRIPE_SECRET_KEY": "",
    "STRIPE_PUBLISHABLE_KEY": "",
    # Where the stripe package sends its API calls; empty: https://api.stripe.com (tests point
    # it to a local double).
    "STRIPE_API_BASE": "",
    # This deployment takes no real payments (a staging or demo server): only then may the
    # local gateway run in production.
    "PAYMENTS_TEST_MODE": "",
    # A declined renewal keeps access this many days while later runs of `billing renew` retry.
    "RENEWAL_GRACE_DAYS": "7",
    # --- Imported publisher courses (lti-tool content import)
    # Where imported SCORM content is extracted: outside the web root; on a shared filesystem
    # when several hosts serve the app.
    "CONTENT_DIR": "var/content",
    # Zip bomb limits for an imported package: total uncompressed bytes, bytes of one file, files.
    "CONTENT_MAX_BYTES": "524288000",
    "CONTENT_MAX_FILE_BYTES": "262144000",
    "CONTENT_MAX_FILES": "10000",
    # --- Background jobs (lti-tool worker): seconds between the runs of each job.
    "JOB_CLEANUP_SECONDS": "600",
    "JOB_AGS_FLUSH_SECONDS": "60",
    "JOB_BILLING_RENEW_SECONDS": "3600",
    "JOB_BILLING_RECONCILE_SECONDS": "900",
    "JOB_MAIL_RETRY_SECONDS": "60",
    # A worker's claim on a running job lasts this long: longer than the slowest job takes. A
    # worker that dies mid-run gives the job back to the others when its claim ends.
    "JOBS_LEASE_SECONDS": "900",
    # A worker looks for due jobs at least this often (seconds).
    "JOBS_POLL_SECONDS": "5",
    # Mail the SMTP server did not take is tried again by the mail job, up to this many attempts
    # in all, while it is younger than MAIL_RETRY_HOURS.
    "MAIL_MAX_ATTEMPTS": "5",
    "MAIL_RETRY_HOURS": "24",
    # gunicorn workers of `lti-tool serve` outside development (`--workers` overrides).
    "SERVE_WORKERS": "2",
}
