"""lumaweb settings: every value comes from the environment, with defaults that just run.

The defaults are the embedded mode (SQLite under var/, the database task worker, the built-in
Luma simulator when no API key is set). docs/deploy.md lists what to set for scale-out.
"""

import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_usd(name: str) -> Decimal:
    """An amount of US dollars ("250", "99.50"); unset or empty: 0 (off)."""
    value = os.environ.get(name) or "0"
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ImproperlyConfigured(f"{name} must be an amount of dollars, not {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ImproperlyConfigured(f"{name} must be 0 (off) or more, not {value!r}")
    return amount


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


VAR_DIR = Path(env("LUMAWEB_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/."""
    if key := env("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "generations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a form's body (CSRF does): too large is refused unread.
    "generations.uploads.FormBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "lumaweb.middleware.LoginRequiredMiddleware",  # Django's, the person read only if needed
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "lumaweb.middleware.ContentSecurityPolicyMiddleware",
    "lumaweb.middleware.MethodNotAllowedPageMiddleware",
    # Last, so it turns a lockout anywhere (a login, a password change) into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lumaweb.urls"
WSGI_APPLICATION = "lumaweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "generations.context_processors.studio",
            ],
        },
    },
]

# --- Database: SQLite under var/ by default, anything dj-database-url reads otherwise ---
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'lumaweb.sqlite3'}"), conn_max_age=60
    )
}
# Connections are kept between requests: opening one (and, for SQLite, running its pragmas)
# costs more than the queries of a typical page.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the worker write while pages read; IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file (not memory) so a test's worker process can share it; one per test run.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes checks every authenticate() (both login pages, the password change) first.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) and user media ---
STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Archived outputs on any S3-compatible store (`pip install "django-storages[s3]"`); the
# usual AWS_* variables (keys, region) are read by boto3 itself. See docs/deploy.md.
if env("AWS_STORAGE_BUCKET_NAME"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env("AWS_S3_REGION_NAME") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    }
WHITENOISE_MAX_AGE = 3600

# --- Security ---
# A gallery selection posts one field per piece: past Django's 1,000 a long selection was a bare
# 400; up to this many the selection page says which part one action takes (selection.py).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Sessions live in the database, so logging out ends them for every copy of the cookie. They are
# read through a cache only when every web process is sure to share it (docs/deploy.md#sessions):
# Redis named by SESSION_CACHE_URL, or, with SQLite (one filesystem), files under VAR_DIR. A
# per-process or per-host copy would keep a logged-out session alive elsewhere.
SESSION_CACHE_URL = env("SESSION_CACHE_URL")
SESSION_CACHE_SHARED = bool(SESSION_CACHE_URL) or (
    DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
)
SESSION_ENGINE = env(
    "SESSION_ENGINE",
    "django.contrib.sessions.backends." + ("cached_db" if SESSION_CACHE_SHARED else "db"),
)
SESSION_CACHE_ALIAS = "sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind an HTTPS proxy (SECURE_COOKIES=1): redirect plain HTTP, HSTS, trust its X-Forwarded-Proto.
if env_bool("SECURE_COOKIES"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # probes may speak plain HTTP
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
    # Joining the browsers' preload list is the domain owner's decision, not the app's.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
METRICS_TOKEN = env("METRICS_TOKEN")

# --- Background work: Django's Tasks API (django-tasks backport) ---
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
TASKS_BACKEND = env("TASKS_BACKEND", "db")
# Two queues, each with a worker of its own under `make run` (`run_worker --queues`): "default"
# for what a person waits on (sending, polling, fresh links), "bulk" for what may take minutes
# (archiving outputs, importing a history), which must never hold a job's poll.
TASK_QUEUES = ["default", "bulk"]
TASKS: dict[str, dict[str, object]]
if TASKS_BACKEND == "db":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": TASK_QUEUES}}
elif TASKS_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": TASK_QUEUES}}
    # RQ stops a task that runs longer than this: an archive may take LUMAWEB_ARCHIVE_TIMEOUT
    # per output, an import as long as the history it reads.
    RQ_QUEUES = {
        "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
        "bulk": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 6 * 3600},
    }
else:  # Django's immediate backend cannot wait for a poll's time (`run_after`)
    raise ImproperlyConfigured(
        f"TASKS_BACKEND must be db (the default) or rq, not {TASKS_BACKEND!r}"
    )

CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Gallery cards rendered once per version and shared by every viewer (generations/cards.py):
    # keys are digests of what a card shows, so entries never go stale, only out of use.
    "cards": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "cards",
        "TIMEOUT": 86400,
        "OPTIONS": {"MAX_ENTRIES": int(env("LUMAWEB_CARD_CACHE_ENTRIES", "5000"))},
    },
    # The sessions (SESSION_ENGINE above): a miss (culled, expired) reads the database. Redis
    # answers fast or not at all: a request must not hang on it.
    "sessions": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": SESSION_CACHE_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    if SESSION_CACHE_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "sessions",
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
}
# Failed logins (generations/throttle.py, django-axes): counted in the database every web process
# shares, per name and address, the address taken from the proxies as configured.
LUMAWEB_LOGIN_MAX_FAILURES = int(env("LUMAWEB_LOGIN_MAX_FAILURES", "5"))  # per name and address
LUMAWEB_LOGIN_LOCKOUT = env_float("LUMAWEB_LOGIN_LOCKOUT", 900.0)  # seconds
# How many reverse proxies in front of the app append to X-Forwarded-For (nginx: 1); 0: none, the
# client is the connection's own address. More than there are lets clients choose their address.
LUMAWEB_PROXY_COUNT = int(env("LUMAWEB_PROXY_COUNT", "0"))
AXES_FAILURE_LIMIT = "generations.throttle.login_failure_limit"
AXES_COOLOFF_TIME = "generations.throttle.login_cool_off"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "generations.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "generations.throttle.locked_out"
AXES_RESET_ON_SUCCESS = True
LUMAWEB_SUBMIT_PER_MINUTE = int(env("LUMAWEB_SUBMIT_PER_MINUTE", "20"))  # per person; 0: off
LUMAWEB_DAILY_JOB_BUDGET = int(env("LUMAWEB_DAILY_JOB_BUDGET", "0"))  # per person; 0: off
# Monthly budgets in US dollars of estimated cost (generations/spend.py, prices in the admin);
# 0: off. A person's own budget in the admin (Person budgets) replaces the default.
LUMAWEB_TEAM_MONTHLY_BUDGET_USD = env_usd("LUMAWEB_TEAM_MONTHLY_BUDGET_USD")
LUMAWEB_PERSON_MONTHLY_BUDGET_USD = env_usd("LUMAWEB_PERSON_MONTHLY_BUDGET_USD")

# How often the worker polls an unfinished job, and how the interval backs off for long jobs.
LUMAWEB_POLL_INTERVAL = env_float("LUMAWEB_POLL_INTERVAL", 2.0)
LUMAWEB_POLL_INTERVAL_MAX = env_float("LUMAWEB_POLL_INTERVAL_MAX", 10.0)
LUMAWEB_POLL_BACKOFF_AFTER = env_float("LUMAWEB_POLL_BACKOFF_AFTER", 60.0)
# The sweep re-enqueues jobs nobody is working on (after a worker crash or restart).
LUMAWEB_SWEEP_INTERVAL = env_float("LUMAWEB_SWEEP_INTERVAL", 15.0)
LUMAWEB_SWEEP_GRACE = env_float("LUMAWEB_SWEEP_GRACE", 30.0)
LUMAWEB_WORKER_HEARTBEAT_TIMEOUT = env_float("LUMAWEB_WORKER_HEARTBEAT_TIMEOUT", 30.0)
# Automatic retries of transient failures (generations/retry.py): how many in a chain, and the
# wait before the first one, doubling for each next one.
LUMAWEB_AUTO_RETRY_MAX = int(env("LUMAWEB_AUTO_RETRY_MAX", "2"))
LUMAWEB_AUTO_RETRY_BACKOFF = env_float("LUMAWEB_AUTO_RETRY_BACKOFF", 30.0)
# A deleted job stays in the trash, restorable, this many days; then its files are purged.
LUMAWEB_TRASH_DAYS = env_float("LUMAWEB_TRASH_DAYS", 30.0)
# An unfinished job older than this shows as stuck on the triage page.
LUMAWEB_STUCK_AFTER = env_float("LUMAWEB_STUCK_AFTER", 900.0)
# How long an upstream output URL is trusted after we fetched it (Luma: one hour).
LUMAWEB_OUTPUT_URL_TTL = env_float("LUMAWEB_OUTPUT_URL_TTL", 3600.0)
# The MCP endpoint (generations/mcp/): how long its signed media links work.
LUMAWEB_MCP_LINK_TTL = int(env("LUMAWEB_MCP_LINK_TTL", "3600"))
# How many MCP wait_for_generation calls may hold a web thread at once, per web process; one
# past them answers at once (generations/mcp/server.py `Waits`).
LUMAWEB_MCP_MAX_WAITS = int(env("LUMAWEB_MCP_MAX_WAITS", "2"))

# Uploads: checked from their bytes before anything is stored or sent.
LUMAWEB_UPLOAD_MAX_IMAGE_MB = env_float("LUMAWEB_UPLOAD_MAX_IMAGE_MB", 50)
LUMAWEB_UPLOAD_MAX_VIDEO_MB = env_float("LUMAWEB_UPLOAD_MAX_VIDEO_MB", 1024)
LUMAWEB_UPLOAD_MAX_PIXELS = int(env("LUMAWEB_UPLOAD_MAX_PIXELS", str(40_000_000)))
# What one person's refused forms may keep of their uploads for the next submit (a day at most);
# past it their oldest go first, never the latest form's (trash.bound_pending_uploads).
LUMAWEB_KEPT_UPLOADS_MB = env_float("LUMAWEB_KEPT_UPLOADS_MB", 2048)
# A form body larger than this is refused before it is read (uploads.FormBodyLimitMiddleware);
# one file over its kind's limit is no longer read once past it (uploads.CappedUploadHandler).
LUMAWEB_MAX_REQUEST_MB = env_float("LUMAWEB_MAX_REQUEST_MB", LUMAWEB_UPLOAD_MAX_VIDEO_MB + 64)
FILE_UPLOAD_HANDLERS = [
    "generations.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",  # up to 2.5 MB: in memory
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",  # larger: a temporary file
]
# Files up to this size go to Luma in one multipart request; larger ones use a presigned PUT.
LUMAWEB_INLINE_UPLOAD_MB = env_float("LUMAWEB_INLINE_UPLOAD_MB", 8)

# Archiving outputs into our storage (generations/archive.py): caps, timeouts, retries.
LUMAWEB_ARCHIVE_MAX_BYTES = int(env("LUMAWEB_ARCHIVE_MAX_BYTES", str(2 * 1024**3)))
LUMAWEB_ARCHIVE_TIMEOUT = env_float("LUMAWEB_ARCHIVE_TIMEOUT", 900.0)  # one whole download
LUMAWEB_ARCHIVE_READ_TIMEOUT = env_float("LUMAWEB_ARCHIVE_READ_TIMEOUT", 30.0)
LUMAWEB_ARCHIVE_RETRY_DELAY = env_float("LUMAWEB_ARCHIVE_RETRY_DELAY", 10.0)  # doubles each try
LUMAWEB_ARCHIVE_MAX_ATTEMPTS = int(env("LUMAWEB_ARCHIVE_MAX_ATTEMPTS", "6"))
# After those fast tries, "Not archived" outputs are tried again this often (the sweep does it).
LUMAWEB_ARCHIVE_SLOW_RETRY = env_float("LUMAWEB_ARCHIVE_SLOW_RETRY", 3600.0)
# A presigned URL this close to its expiry is refreshed from upstream before a page shows it.
LUMAWEB_URL_SAFETY_MARGIN = env_float("LUMAWEB_URL_SAFETY_MARGIN", 300.0)
# Archived media is served by Django, or handed to the web server: "x-accel" (nginx) or
# "x-sendfile" (Apache, Caddy, lighttpd); nginx maps LUMAWEB_MEDIA_ACCEL_PREFIX to MEDIA_ROOT.
LUMAWEB_MEDIA_ACCEL = env("LUMAWEB_MEDIA_ACCEL", "")
LUMAWEB_MEDIA_ACCEL_PREFIX = env("LUMAWEB_MEDIA_ACCEL_PREFIX", "/protected-media/")
if LUMAWEB_MEDIA_ACCEL not in ("", "x-accel", "x-sendfile"):
    raise ImproperlyConfigured("LUMAWEB_MEDIA_ACCEL must be empty, x-accel or x-sendfile")

# --- The upstreams (generations/providers/): each is on when its key is set; with no key at
# all, demo mode turns every simulator on. ---
LUMA_AGENTS_API_KEY = env("LUMA_AGENTS_API_KEY")
# The Dream Machine API's key, by the name its SDK reads.
LUMAAI_API_KEY = env("LUMAAI_API_KEY")
# A reseller's gateway speaking the "Luma proxy" dialect (luma-api.md §3): its base URL (no
# default: each reseller has its own), its token, and the name people here know it by.
LUMA_PROXY_API_KEY = env("LUMA_PROXY_API_KEY")
LUMA_PROXY_NAME = env("LUMA_PROXY_NAME")
# Without LUMAWEB_PUBLIC_URL, input images go to the gateway inline as base64, up to this size.
LUMA_PROXY_INLINE_MAX_MB = env_float("LUMA_PROXY_INLINE_MAX_MB", 10.0)
_any_key = bool(LUMA_AGENTS_API_KEY or LUMAAI_API_KEY or LUMA_PROXY_API_KEY)
LUMA_SIMULATOR = env_bool("LUMA_SIMULATOR", default=not _any_key)
LUMA_SIMULATOR_WITH_KEY = env_bool("LUMA_SIMULATOR_WITH_KEY")
if LUMA_SIMULATOR and _any_key and not LUMA_SIMULATOR_WITH_KEY:
    raise ImproperlyConfigured(
        "LUMA_SIMULATOR=1 with a real Luma key set: the simulator would answer in Luma's place. "
        "Unset one, or set LUMA_SIMULATOR_WITH_KEY=1 if you mean it."
    )
if LUMA_SIMULATOR:
    INSTALLED_APPS.append("generations.simulators")
HOST = env("HOST", "127.0.0.1")
PORT = int(env("PORT", "8000"))
_local_host = "127.0.0.1" if HOST in {"0.0.0.0", "::", ""} else HOST  # noqa: S104
# Where the simulators answer: this app's own address in demo mode.
LUMA_SIMULATOR_ROOT = env("LUMA_SIMULATOR_ROOT", f"http://{_local_host}:{PORT}/sim").rstrip("/")
LUMA_SIMULATOR_PATHS = {"agents": "/v1", "dream_machine": "/dream-machine/v1", "proxy": "/proxy"}
# In demo mode the app talks to its own simulators with this token; it is not a Luma key.
LUMA_SIMULATOR_TOKEN = "luma-sim-" + SECRET_KEY[:24]


def _provider(
    provider: str, key: str, base_url_var: str, real_url: str, **extra: str
) -> dict[str, Any] | None:
    """A provider's configuration: real with its key, simulated in demo mode, else off."""
    if LUMA_SIMULATOR:
        return {
            "base_url": env(base_url_var, LUMA_SIMULATOR_ROOT + LUMA_SIMULATOR_PATHS[provider]),
            "api_key": key or LUMA_SIMULATOR_TOKEN,
            "simulated": True,
            **extra,
        }
    if key:
        base_url = env(base_url_var, real_url)
        if not base_url:
            raise ImproperlyConfigured(f"{base_url_var} is needed with the {provider} key: set it.")
        return {"base_url": base_url, "api_key": key, "simulated": False, **extra}
    return None


LUMA_PROVIDERS = {
    name: config
    for name, config in {
        "agents": _provider(
            "agents", LUMA_AGENTS_API_KEY, "LUMA_BASE_URL", "https://agents.lumalabs.ai/v1"
        ),
        "dream_machine": _provider(
            "dream_machine",
            LUMAAI_API_KEY,
            "LUMAAI_BASE_URL",
            "https://api.lumalabs.ai/dream-machine/v1",
        ),
        "proxy": _provider(
            "proxy", LUMA_PROXY_API_KEY, "LUMA_PROXY_BASE_URL", "", name=LUMA_PROXY_NAME
        ),
    }.items()
    if config is not None
}
# Where the outside world (an upstream fetching an input, or calling a job's hook) reaches the
# studio, e.g. https://studio.example.com; in demo mode the studio's own address, so the
# simulators' fetches and callbacks work. Empty: no hooks, and a gateway gets inputs inline.
LUMAWEB_PUBLIC_URL = env(
    "LUMAWEB_PUBLIC_URL", f"http://{_local_host}:{PORT}" if LUMA_SIMULATOR else ""
).rstrip("/")
# How often the worker reads upstream balances, and the balance (US cents) under which staff
# are warned.
LUMAWEB_CREDITS_INTERVAL = env_float("LUMAWEB_CREDITS_INTERVAL", 300.0)
LUMAWEB_CREDITS_FLOOR = env_float("LUMAWEB_CREDITS_FLOOR", 1000.0)
# How long an upload's public link lives (the upstream fetches it when the job starts).
LUMAWEB_PUBLIC_INPUT_TTL = env_float("LUMAWEB_PUBLIC_INPUT_TTL", 86400.0)
LUMA_CONNECT_TIMEOUT = env_float("LUMA_CONNECT_TIMEOUT", 5.0)
LUMA_READ_TIMEOUT = env_float("LUMA_READ_TIMEOUT", 30.0)
LUMA_MAX_RETRIES = int(env("LUMA_MAX_RETRIES", "2"))
LUMA_RETRY_AFTER_CAP = env_float("LUMA_RETRY_AFTER_CAP", 60.0)

LUMA_SIM_SPEED = env_float("LUMA_SIM_SPEED", 1.0)
LUMA_SIM_URL_TTL = env_float("LUMA_SIM_URL_TTL", 3600.0)
LUMA_SIM_RPM = int(env("LUMA_SIM_RPM", "0"))
LUMA_SIM_MAX_CONCURRENT = int(env("LUMA_SIM_MAX_CONCURRENT", "0"))
LUMA_SIM_DIR = Path(env("LUMA_SIM_DIR", str(VAR_DIR / "sim")))
LUMA_SIM_FAULT_DELAY = env_float("LUMA_SIM_FAULT_DELAY", 35.0)
LUMA_SIM_MAX_PIXELS = int(env("LUMA_SIM_MAX_PIXELS", str(50_000_000)))
LUMA_SIM_REFRAME_1080P = env_bool("LUMA_SIM_REFRAME_1080P", default=True)
# Hosts besides the studio's own a simulator may call or fetch from (simulators/guard.py).
LUMA_SIM_ALLOWED_HOSTS = env_list("LUMA_SIM_ALLOWED_HOSTS", "")
# Largest upload a simulator accepts (the studio's own limit for videos is 1 GiB).
LUMA_SIM_MAX_FILE_MB = env_float("LUMA_SIM_MAX_FILE_MB", 1100.0)
# How the simulated gateway answers (generations/simulators/proxy): "flat" as the seed shows,
# "wrapped" in {code, message, data} with video.download_url, or "clone" (extra fields, the
# video at video_raw.url); a request's X-Sim-Shape header overrides it.
LUMA_SIM_PROXY_SHAPE = env("LUMA_SIM_PROXY_SHAPE", "flat")
# What each Dream Machine simulator customer starts with, in US cents.
LUMA_SIM_CREDITS = env_float("LUMA_SIM_CREDITS", 100000.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Signed URLs are logged without their signatures (lumaweb/logs.py).
    "filters": {"signatures": {"()": "lumaweb.logs.RedactSignatures"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["signatures"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # every failed login, not every check
        # /mcp starts and stops one session manager per request (generations/mcp/views.py).
        "mcp.server.streamable_http_manager": {"level": "WARNING"},
        # runserver's request lines, through the console handler and so its filter.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
