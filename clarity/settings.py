"""Clarity settings: one module, every deployment-specific value read from the environment.

See README.md ("Configuration") for what each variable does. Nothing secret lives here:
`DJANGO_SECRET_KEY` is required unless `DJANGO_DEBUG` is true, and the local
`make run` flow generates a git-ignored `.env` with development values.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from servestatic.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(env.str("CLARITY_ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# pytest (>= 8.2) sets PYTEST_VERSION for the whole run; tests need no secrets file.
TESTING = "PYTEST_VERSION" in env.ENVIRON

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false.")
    # Only for debug/test runs; a random value per process keeps sessions short-lived.
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = get_random_secret_key()

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "clarity.admin_site.ClarityAdminConfig",  # django.contrib.admin as "Clarity staff review"
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",
    "clarity.staticfiles.StaticFilesConfig",  # django.contrib.staticfiles, fewer unused assets
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "clarity.users",
    "clarity.audit",
    "patients",
    "twins",
    "interactions",
    "clarity.research",
    "clarity.fhir",
]

MIDDLEWARE = [
    "clarity.api.no_store.NoStoreMiddleware",
    "clarity.api.middleware.RequestContextMiddleware",
    "clarity.replicas.ReplicaRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files before sessions and auth: an asset never touches the database.
    "clarity.staticfiles.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clarity.api.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "clarity.urls"
ASGI_APPLICATION = "clarity.asgi.application"
WSGI_APPLICATION = "clarity.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "clarity" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
# DATABASE_URL: sqlite:///path (default: db.sqlite3 beside manage.py) or
# postgres://user:pass@host:port/name?sslmode=verify-full&sslrootcert=/path/ca.pem
# Query-string options (sslmode, sslrootcert, ...) are passed to psycopg as OPTIONS.
# Django's PostgreSQL backend with its pooled connections checked at checkout without
# psycopg_pool's back-off (clarity/postgres/base.py): every postgres:// URL uses it.
POSTGRES_ENGINE = "clarity.postgres"
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.postgresql":
    _db["ENGINE"] = POSTGRES_ENGINE
if _db["ENGINE"] == POSTGRES_ENGINE:
    # psycopg 3 with Django's own pool: connections are returned to the pool at the end
    # of each request, so CONN_MAX_AGE must be 0. The backend checks each pooled
    # connection as a request takes it; Django's own check (an empty query, with
    # psycopg_pool's back-off) stays off.
    _db["CONN_MAX_AGE"] = 0
    _db["CONN_HEALTH_CHECKS"] = False
    _db.setdefault("OPTIONS", {})
    if env.bool("DATABASE_POOL", default=True):
        _db["OPTIONS"]["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": env.int("DATABASE_POOL_MAX", default=16),
            # How long a request waits for a connection before it is answered 503: while
            # the database is down every request waits this long, so keep it short.
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3.0),
            # psycopg_pool retries a failed connection with exponential back-off (1, 2, 4,
            # 8, 16 s ...) until reconnect_timeout (default 5 min): after a 30 s outage the
            # next attempt could be 30 s away. Giving up after 2 s lets the next request
            # start a fresh attempt at once, so the pool refills as soon as the database is back.
            "reconnect_timeout": env.float("DATABASE_POOL_RECONNECT_TIMEOUT", default=2.0),
        }
    _db["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
    # PostgreSQL binds the parameters and psycopg prepares a statement once a connection has
    # run it DATABASE_PREPARE_THRESHOLD times: PostgreSQL then neither parses nor plans it
    # again (as asyncpg does under the FastAPI peer). Planning was most of PostgreSQL's time
    # per request: 0.85 ms of a page of interactions (the table's monthly partitions are
    # planned one by one), 0.17 ms for the patient's access statement, 0.16 ms for the
    # token (pg_stat_statements, README "Performance"). Django turns preparing off by
    # default for the sake of transaction-mode poolers such as PgBouncer < 1.21: behind one,
    # set DATABASE_PREPARE_THRESHOLD=0. The access statements cost the same work for an
    # out-of-scope record and a made-up id, so cheaper statements reveal nothing.
    _db["OPTIONS"].setdefault("server_side_binding", env.bool("DATABASE_SERVER_SIDE_BINDING", default=True))
    _prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
    if _db["OPTIONS"]["server_side_binding"] and _prepare_threshold > 0:
        _db["OPTIONS"].setdefault("prepare_threshold", _prepare_threshold)
    # One slow query (a lock queue, a runaway plan) must not hold a worker and a pooled
    # connection indefinitely: PostgreSQL cancels it (SQLSTATE 57014, answered 503).
    # 0 disables it, e.g. for a long one-off maintenance command.
    _statement_timeout = env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=15000)
    if _statement_timeout > 0:
        _options = _db["OPTIONS"].get("options", "")
        _db["OPTIONS"]["options"] = f"{_options} -c statement_timeout={_statement_timeout}".strip()
    _db.setdefault("TEST", {})
    if env.str("DATABASE_TEST_NAME", default=""):
        _db["TEST"]["NAME"] = env.str("DATABASE_TEST_NAME")
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {})
    # WAL plus a busy timeout lets the dev server's threads write without "database is locked".
    _db["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    _db["OPTIONS"].setdefault("timeout", 20)
    _db["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")

# --- Read replicas (clarity/replicas.py, docs/scaling.md) -----------------------------
# DATABASE_REPLICA_URLS: comma-separated URLs of streaming replicas of DATABASE_URL, one
# alias each (replica_1, ...), same pool and timeout options. Empty: one database.
REPLICA_ALIASES = []
for _n, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[]), start=1):
    _replica = environ.Env.db_url_config(_url)
    if _replica["ENGINE"] == "django.db.backends.postgresql":
        _replica["ENGINE"] = POSTGRES_ENGINE
    if _replica["ENGINE"] != _db["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS must use the same database engine as DATABASE_URL.")
    _replica_options = {**_db.get("OPTIONS", {}), **_replica.get("OPTIONS", {})}
    _replica_host = (_replica.get("HOST") or "").strip()
    if (
        not DEBUG
        and _replica_host not in ("", "localhost", "127.0.0.1", "::1")
        and not _replica_host.startswith("/")
        and _replica.get("OPTIONS", {}).get("sslmode") not in ("require", "verify-ca", "verify-full")
    ):
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS points off this host without TLS: add ?sslmode=verify-full.")
    if "pool" in _replica_options:
        _replica_options["pool"] = dict(_replica_options["pool"])
    DATABASES[f"replica_{_n}"] = {
        **_replica,
        "CONN_MAX_AGE": _db.get("CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": _db.get("CONN_HEALTH_CHECKS", False),
        "OPTIONS": _replica_options,
        # Under test a replica is the test database itself (never created or migrated).
        "TEST": {"MIRROR": "default"},
    }
    REPLICA_ALIASES.append(f"replica_{_n}")
if TESTING and not REPLICA_ALIASES:
    # The ordinary suite has one mirror alias, so the router's replica path is exercised
    # (tests opt in with override_settings(REPLICA_ALIASES=["replica"])).
    DATABASES["replica"] = {**_db, "OPTIONS": dict(_db.get("OPTIONS", {})), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["clarity.replicas.ReplicaRouter"]
# After a request that wrote, the caller reads from the primary for this long (signed cookie).
REPLICA_PIN_SECONDS = env.float("REPLICA_PIN_SECONDS", default=5.0)
# A replica further behind than this (or unreachable) is skipped; reads go to the primary.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=10.0)
# How often each worker re-checks each replica's reachability and lag.
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=1.0)
REPLICA_CONNECT_TIMEOUT = env.float("REPLICA_CONNECT_TIMEOUT", default=1.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "users.User"
# The admin login and every other authenticate() caller share the API's lockout and audit.
AUTHENTICATION_BACKENDS = ["clarity.users.backends.LockoutModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTH_TOKEN_TTL = timedelta(seconds=env.int("AUTH_TOKEN_TTL", default=3600))
BREAK_GLASS_TTL = timedelta(seconds=env.int("BREAK_GLASS_TTL", default=3600))
LOGIN_FAILURE_LIMIT_ACCOUNT = env.int("LOGIN_FAILURE_LIMIT_ACCOUNT", default=5)
LOGIN_FAILURE_LIMIT_IP = env.int("LOGIN_FAILURE_LIMIT_IP", default=20)
LOGIN_LOCKOUT = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=900))
# Addresses or networks (comma-separated: "10.0.0.5,10.1.0.0/16") of the reverse proxies
# whose X-Forwarded-For/-Proto `clarity.serve` believes. Default: none, so the client
# address is the TCP peer's and a client cannot choose its own (per-IP lockout, audit ip).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Admin sessions expire after 15 minutes idle (HIPAA automatic logoff).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=900)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Transport and browser security (HIPAA §164.312(e)) -----------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
if not DEBUG:
    # TLS terminates at a proxy that sets X-Forwarded-Proto; plain HTTP is redirected.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The test client speaks plain HTTP; production defaults to redirecting.
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not TESTING)
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    _host = (_db.get("HOST") or "").strip()
    _loopback = _host in ("", "localhost", "127.0.0.1", "::1") or _host.startswith("/")
    if (
        _db["ENGINE"] == POSTGRES_ENGINE
        and not _loopback
        and _db.get("OPTIONS", {}).get("sslmode") not in ("require", "verify-ca", "verify-full")
    ):
        raise ImproperlyConfigured(
            "DATABASE_URL points off this host without TLS: add ?sslmode=verify-full (or require)."
        )

# --- Audit chain ------------------------------------------------------------------
# HMAC key for the tamper-evident audit chain (hex or any string; >= 32 bytes). Never
# derived from SECRET_KEY, so rotating one does not silently invalidate the other.
_audit_key = env.str("AUDIT_HMAC_KEY", default="")
if not _audit_key:
    if not TESTING:
        raise ImproperlyConfigured("AUDIT_HMAC_KEY is required (make run writes a development one to .env).")
    _audit_key = "clarity-test-only-audit-hmac-key-not-for-production"
AUDIT_HMAC_KEY = _audit_key.encode()
# Seconds between after-commit sealing attempts per process (0: after every commit).
# Under load one round then seals every event of the last interval per worker (a read
# costs ~0.1 ms of sealing instead of ~1 ms at 0.05 s); a quiet server seals on the next write.
AUDIT_SEAL_INTERVAL = env.float("AUDIT_SEAL_INTERVAL", default=0.25)
# PostgreSQL: monthly audit partitions created ahead (manage.py audit_partitions, and migrate).
AUDIT_PARTITIONS_AHEAD = env.int("AUDIT_PARTITIONS_AHEAD", default=3)
# An interaction's occurred_at may be at most this many days ahead of the server's clock
# (client clock skew). On PostgreSQL the interaction log's months are kept ahead by the same
# command, so the window must stay well inside AUDIT_PARTITIONS_AHEAD months.
INTERACTION_MAX_FUTURE_DAYS = env.int("INTERACTION_MAX_FUTURE_DAYS", default=1)
if not 0 <= INTERACTION_MAX_FUTURE_DAYS < 28 * AUDIT_PARTITIONS_AHEAD:
    raise ImproperlyConfigured("INTERACTION_MAX_FUTURE_DAYS must be below AUDIT_PARTITIONS_AHEAD months.")
# HIPAA keeps audit records six years: no month younger than this leaves the database
# (manage.py audit_archive). Archived months go to files in AUDIT_ARCHIVE_DIR.
AUDIT_RETENTION_MONTHS = env.int("AUDIT_RETENTION_MONTHS", default=72)
AUDIT_ARCHIVE_DIR = env.str("AUDIT_ARCHIVE_DIR", default=str(BASE_DIR / "audit-archive"))
# The chain head's external anchor (manage.py audit_anchor every few minutes): a file
# outside the database, ideally on another host or an append-only mount. Empty: off.
AUDIT_ANCHOR_PATH = env.str("AUDIT_ANCHOR_PATH", default="")
AUDIT_ANCHOR_STORE = env.str("AUDIT_ANCHOR_STORE", default="clarity.audit.anchor.FileAnchorStore")

# --- Field-level encryption of contact PHI (clarity/crypto.py) ------------------------
# PHI_ENCRYPTION_KEYS: "kid:base64-32-bytes,kid:..." newest first; PHI_BLIND_INDEX_KEY:
# a separate HMAC key for exact-match search. Never derived from SECRET_KEY; required
# everywhere but the test suite (make run writes development keys to .env).
PHI_ENCRYPTION_KEYS = env.str("PHI_ENCRYPTION_KEYS", default="")
_blind_key = env.str("PHI_BLIND_INDEX_KEY", default="")
if not PHI_ENCRYPTION_KEYS or not _blind_key:
    if not TESTING:
        raise ImproperlyConfigured(
            "PHI_ENCRYPTION_KEYS and PHI_BLIND_INDEX_KEY are required (make run writes development keys to .env)."
        )
    PHI_ENCRYPTION_KEYS = PHI_ENCRYPTION_KEYS or "test1:" + "dGVzdC1vbmx5LXBoaS1rZXktMzItYnl0ZXMtbG9uZyE="
    _blind_key = _blind_key or "test-only-blind-index-key"
PHI_BLIND_INDEX_KEY = _blind_key.encode()

# --- I18N / static --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# Where `collectstatic` writes and ServeStatic serves from (clarity/staticfiles.py).
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names + gzip/brotli variants, made by `collectstatic` (make run, deploy).
    "staticfiles": {"BACKEND": "clarity.staticfiles.HashedStaticFilesStorage"},
}
# Unhashed files (none are referenced by our pages) are cached for a minute; hashed ones forever.
SERVESTATIC_MAX_AGE = 60
if TESTING:
    # The suite runs on a fresh clone without `collectstatic`: files come from the apps
    # (finders) under their plain names. The production server tests run collectstatic
    # and exercise the manifest storage for real.
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    SERVESTATIC_USE_FINDERS = True
    SERVESTATIC_USE_MANIFEST = False
else:
    SERVESTATIC_USE_FINDERS = False
    SERVESTATIC_USE_MANIFEST = True
SERVESTATIC_AUTOREFRESH = False
# Source maps are fetched by developer tools only: not worth brotli's time at collectstatic.
SERVESTATIC_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")

# Bodies over 10 MiB are refused (413) before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Threads per server process that run requests' database work, one request at a time
# each (clarity/api/django_middleware.py). At most REQUEST_THREADS_RUNNING are lent at
# once; more requests wait their turn on the event loop. When no thread has come back for
# REQUEST_THREAD_PATIENCE seconds, the waiting requests get threads of their own, up to
# REQUEST_THREADS: a streaming export holds one for its length (at most
# EXPORT_MAX_PER_WORKER), and a request waiting on a lock or for a database connection
# holds one while it waits. Each thread that comes back lowers that raised limit by one,
# back to REQUEST_THREADS_RUNNING.
REQUEST_THREADS_RUNNING = env.int("REQUEST_THREADS_RUNNING", default=3)
REQUEST_THREADS = env.int("REQUEST_THREADS", default=16)
REQUEST_THREAD_PATIENCE = env.float("REQUEST_THREAD_PATIENCE", default=0.05)

# --- One client cannot take the service down (README "Reliability") -------------------
# Enforced by the production server's protocol (clarity/http_protocol.py): a request head
# (request line + header fields) over HTTP_HEADER_MAX_BYTES or with more than
# HTTP_HEADER_MAX_COUNT fields → 431 (414 for an over-long request line); a head not
# complete within HTTP_READ_TIMEOUT seconds, or an upload stalled that long → 408; a
# client that reads nothing for HTTP_SEND_TIMEOUT seconds while a response waits → cut.
HTTP_HEADER_MAX_BYTES = env.int("HTTP_HEADER_MAX_BYTES", default=32 * 1024)
HTTP_HEADER_MAX_COUNT = env.int("HTTP_HEADER_MAX_COUNT", default=100)
HTTP_READ_TIMEOUT = env.float("HTTP_READ_TIMEOUT", default=20.0)
HTTP_SEND_TIMEOUT = env.float("HTTP_SEND_TIMEOUT", default=30.0)
# Patient exports streaming at once, per worker process and per caller within a worker;
# beyond either → 429 with Retry-After (interactions/export.py).
EXPORT_MAX_PER_WORKER = env.int("EXPORT_MAX_PER_WORKER", default=8)
EXPORT_MAX_PER_CALLER = env.int("EXPORT_MAX_PER_CALLER", default=2)

# --- REST framework -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clarity.api.authentication.BearerTokenAuthentication",
        "clarity.api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["clarity.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["clarity.api.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "clarity.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Clarity API",
    "DESCRIPTION": "Patient data backbone for psychiatric digital twins. PHI: every access is audited.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # /api/docs/ offers only what a person can use there: a bearer token from
    # POST /api/v1/auth/token/ (a session cookie cannot be entered in Swagger UI, and its
    # unsafe methods need a CSRF header). The token survives reloads (kept in the
    # browser's localStorage until "Logout" in the Authorize dialog; it expires anyway).
    "AUTHENTICATION_WHITELIST": ["clarity.api.authentication.BearerTokenAuthentication"],
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayRequestDuration": True},
    "ENUM_NAME_OVERRIDES": {
        "UserRoleEnum": "clarity.users.models.Role.choices",
        "CareTeamRoleEnum": "patients.models.CareTeamRole.choices",
        "PatientStatusEnum": "patients.models.PatientStatus.choices",
        "TwinStatusEnum": "twins.models.TwinStatus.choices",
        "TwinTypeEnum": "twins.models.TwinType.choices",
        "CohortKindEnum": "clarity.research.models.CohortKind.choices",
        "KindEnum": "interactions.models.Kind.choices",
        "DatasetStatusEnum": "clarity.research.models.DatasetStatus.choices",
    },
}

# FHIR: the `Identifier.system` under which patients' MRNs are published (the issuing
# organisation's URI or OID); `Patient?identifier=<system>|<mrn>` matches only this system.
FHIR_MRN_SYSTEM = env.str("FHIR_MRN_SYSTEM", default="urn:clarity:mrn")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "clarity.api.middleware.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's request logger prints the request path and exception text; our
        # structured request log replaces it.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "clarity.access": {
            "handlers": ["console"],
            "level": env.str("ACCESS_LOG_LEVEL", default="INFO"),
            "propagate": False,
        },
    },
}
