"""Settings, read from the environment. See README "Configuration" for every variable.

Embedded default (no variables set): SQLite in WAL mode under ``$SHULIAN_DATA_DIR``
(default ``./var/``), eager Celery tasks, a master key generated into the data dir.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from kernel.secrets import load_or_create_secret, private_dir, private_file

BASE_DIR = Path(__file__).resolve().parent.parent
# The embedded default's data (database, keys, secrets) is for this user alone: 0700/0600.
DATA_DIR = private_dir(Path(os.environ.get("SHULIAN_DATA_DIR", BASE_DIR / "var")).resolve())


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "").strip() or default)


def _rate(name: str, default: str) -> str | None:
    """An API budget such as ``120/min`` from the environment; ``off``: no budget."""
    value = os.environ.get(name, default)
    return None if value.strip().lower() == "off" else value


DEBUG = _env_bool("SHULIAN_DEBUG")
# Production mode: served over HTTPS (behind a proxy that terminates TLS, see README
# "Production"): Secure cookies, HSTS and the redirect to https.
SHULIAN_HTTPS = _env_bool("SHULIAN_HTTPS")
SECRET_KEY = os.environ.get("SHULIAN_SECRET_KEY") or load_or_create_secret(
    DATA_DIR / "secret_key", nbytes=48
)
# Hex-encoded 128-bit SM4 key that encrypts custodial private keys at rest.
SHULIAN_MASTER_KEY = os.environ.get("SHULIAN_MASTER_KEY") or load_or_create_secret(
    DATA_DIR / "master_key", nbytes=16
)
SHULIAN_LEDGER_ORIGIN = os.environ.get("SHULIAN_LEDGER_ORIGIN", "shulian.local/ledger")
# PostgreSQL: the role the application connects as (least privilege, see ledger/roles.py);
# `migrate`, run as the owner role, grants it its privileges when this is set.
SHULIAN_DB_APP_ROLE = os.environ.get("SHULIAN_DB_APP_ROLE", "")
# Accept, then integrate (ledger.queue): integrate queued statements in the process that
# queued them, right after its commit (the embedded default), or leave them to the
# integrator process `manage.py integrate` (production: SHULIAN_INTEGRATE_IN_PROCESS=0).
SHULIAN_INTEGRATE_IN_PROCESS = os.environ.get(
    "SHULIAN_INTEGRATE_IN_PROCESS", "1" if not os.environ.get("CELERY_BROKER_URL") else "0"
).lower() in ("1", "true", "yes")
# How long a queued statement may wait to be integrated before the health check says so,
# and how long an API call that queued statements waits for their seqs (milliseconds).
SHULIAN_INTEGRATION_BOUND_MS = int(os.environ.get("SHULIAN_INTEGRATION_BOUND_MS", "250"))
SHULIAN_INTEGRATION_WAIT_MS = int(os.environ.get("SHULIAN_INTEGRATION_WAIT_MS", "2000"))
# How long a custodial key, once unsealed to sign, stays in memory (seconds; 0: not held).
SHULIAN_CUSTODY_HOLD_SECONDS = float(os.environ.get("SHULIAN_CUSTODY_HOLD_SECONDS", "30"))
# How long the working-day calendar read from the Holiday table is reused (seconds).
SHULIAN_CALENDAR_CACHE_SECONDS = float(os.environ.get("SHULIAN_CALENDAR_CACHE_SECONDS", "300"))
# The integrator process seals a checkpoint at most this often while the queue is busy
# (and as soon as it is empty).
SHULIAN_CHECKPOINT_SECONDS = float(os.environ.get("SHULIAN_CHECKPOINT_SECONDS", "1"))
# Embedded default: seal a checkpoint every N entries (0 disables).
SHULIAN_CHECKPOINT_EVERY = int(os.environ.get("SHULIAN_CHECKPOINT_EVERY", "16"))


def _witnesses_from_env() -> list[dict[str, str]]:
    """SHULIAN_WITNESSES: a JSON list of {"name", "url", "key_id"} (docs/witness.md)."""
    import json

    from django.core.exceptions import ImproperlyConfigured

    text = os.environ.get("SHULIAN_WITNESSES", "").strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"SHULIAN_WITNESSES is not JSON: {exc}") from None
    fields = {"name", "url", "key_id"}
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and set(item) == fields
        and all(isinstance(item[f], str) and item[f] for f in fields)
        for item in value
    ):
        raise ImproperlyConfigured(
            'SHULIAN_WITNESSES must be a JSON list of {"name", "url", "key_id"} strings'
        )
    return value


# Inter-department witnesses that cosign checkpoints; a checkpoint is settled once
# SHULIAN_WITNESS_K of them cosigned it (0: no witnesses, settlement not in use).
SHULIAN_WITNESSES = _witnesses_from_env()
# Unset: a majority of the witness keys registered in the ledger (none registered: 0).
SHULIAN_WITNESS_K = (
    int(os.environ["SHULIAN_WITNESS_K"]) if os.environ.get("SHULIAN_WITNESS_K") else None
)
# The regulator is alerted about checkpoints still unsettled this many seconds after sealing.
SHULIAN_UNSETTLED_ALERT_SECONDS = int(os.environ.get("SHULIAN_UNSETTLED_ALERT_SECONDS", "600"))

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("SHULIAN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    # Before django.contrib.auth: its createsuperuser (with the password rules) wins.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "csp",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "ledger",
    "audit",
    "operators",
    "catalog",
    "contracts",
    "portal",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "kernel.request_cache.RequestCacheMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After the static files: every dynamic answer is Cache-Control: no-store.
    "kernel.headers.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After the language is chosen, before anything reads the session, the user or a form.
    "kernel.edge.InputPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Signs out sessions that are idle or open too long (accounts.sessions).
    "accounts.sessions.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it turns a lockout signalled during authentication into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context.portal",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{private_file(DATA_DIR / 'db.sqlite3')}",
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, with writers that take turns instead of polling (kernel.db.sqlite3)
    DATABASES["default"]["ENGINE"] = "kernel.db.sqlite3"
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # BEGIN IMMEDIATE for every atomic block: writers queue on the database lock
        # instead of failing with "database is locked" when they upgrade a read lock.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        # secure_delete: an erased payload's bytes are overwritten, not left in the page's
        # free space, so that a backup written after an erasure does not contain it.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA secure_delete=ON;",
    }
    # A file, not :memory:, so that tests with several processes share the test database.
    # One per test process, so that concurrent runs never share a test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses every password check of a locked-out account or address.
    "accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None

# Every way a password is set (the application form, password changes, the admin,
# createsuperuser, changepassword, accounts.passwords) checks these.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Failed sign-ins (django-axes, accounts.lockout): after SHULIAN_LOGIN_FAILURES failures
# for one account, or from one address, every password check for it is refused for
# SHULIAN_LOGIN_LOCKOUT_MINUTES after the last failure (429 with Retry-After).
AXES_FAILURE_LIMIT = _env_int("SHULIAN_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("SHULIAN_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# Behind SHULIAN_PROXIES trusted reverse proxies the client is the address they name.
SHULIAN_PROXIES = _env_int("SHULIAN_PROXIES", 0)
AXES_IPWARE_PROXY_COUNT = SHULIAN_PROXIES or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if SHULIAN_PROXIES else ["REMOTE_ADDR"])

# API tokens (django-rest-knox): stored as SHA-512 digests, valid SHULIAN_TOKEN_HOURS.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=_env_int("SHULIAN_TOKEN_HOURS", 10)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# The throttles' counters, and the cache of every process: one directory for the processes
# of the embedded default; SHULIAN_CACHE_URL (redis://...) for several machines.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache",
         "LOCATION": os.environ["SHULIAN_CACHE_URL"]}
        if os.environ.get("SHULIAN_CACHE_URL") else
        {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
         "LOCATION": str(private_dir(DATA_DIR / "cache"))}
    )
}

LANGUAGE_CODE = os.environ.get("SHULIAN_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = private_dir(DATA_DIR / "static")
# Files Django writes (collectstatic's copies, any stored upload) are, like the rest of the
# data directory, for its owner alone; the process serves them itself (whitenoise).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Plain names (no manifest): whitenoise serves them from the finders and STATIC_ROOT.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests and `runserver` serve static files straight from the app folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

CSRF_FAILURE_VIEW = "kernel.edge.csrf_failure"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# --- headers, cookies and production mode (SHULIAN_HTTPS) --------------------------------
# A portal session ends SHULIAN_SESSION_HOURS after the sign-in and SHULIAN_SESSION_IDLE_MINUTES
# after the last request (accounts.sessions).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * _env_int("SHULIAN_SESSION_HOURS", 10)
SHULIAN_SESSION_IDLE_SECONDS = 60 * _env_int("SHULIAN_SESSION_IDLE_MINUTES", 30)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SHULIAN_HTTPS
# Over https the cookies are bound to this host alone (the __Host- prefix needs Secure).
if SHULIAN_HTTPS:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_SSL_REDIRECT = SHULIAN_HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if SHULIAN_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = SHULIAN_HTTPS
# The proxy in front terminates TLS and says so (docs/nginx.conf); trusted only then.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SHULIAN_HTTPS else None
# /healthz answers the proxy's and the scripts' plain-http probes on loopback.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content Security Policy (django-csp): nothing inline, nothing from elsewhere; htmx is
# configured without eval (portal/templates/base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Per signed-in user, per address for anonymous clients; writes and sign-ins have
    # their own, lower budgets (kernel.drf). 429 with Retry-After when spent.
    "DEFAULT_THROTTLE_CLASSES": ["kernel.drf.ReadThrottle", "kernel.drf.WriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "read": _rate("SHULIAN_THROTTLE_READ", "600/min"),
        "write": _rate("SHULIAN_THROTTLE_WRITE", "120/min"),
        "login": _rate("SHULIAN_THROTTLE_LOGIN", "20/min"),
    },
    "NUM_PROXIES": SHULIAN_PROXIES,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "kernel.drf.Pagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "kernel.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["kernel.drf.JSONParser", "kernel.drf.FormParser",
                               "kernel.drf.MultiPartParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shulian (数链) API",
    "DESCRIPTION": (
        "A permissioned SM2/SM3 ledger for the public-data economy. Every write returns the "
        "ledger entry (seq, leaf hash) it appended. Sign in with POST /api/v1/auth/token/ and "
        "send `Authorization: Token <token>` (tokens expire, default 10 hours). Errors are "
        "JSON: 400 names each field and reason, 403 forbidden action, 404 missing or "
        "invisible object, 409 illegal state transition, 429 too many attempts (with "
        "Retry-After)."
    ),
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Operations are tagged by the part they belong to (ledger, auth, ...), not by "v1".
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets shared by several components get one stable name each.
    "ENUM_NAME_OVERRIDES": {
        "ParticipantKindEnum": "operators.models.Kind",
        "ParticipantStatusEnum": "operators.models.Status",
        "ServiceTypeEnum": "operators.models.ServiceType",
        "ResourceStatusEnum": "catalog.models.ResourceStatus",
        "ProductStatusEnum": "catalog.models.ProductStatus",
        "SharingRequestStateEnum": "contracts.models.SharingRequest.State",
        "AgreementStateEnum": "contracts.models.OperationAgreement.State",
        "GrantStateEnum": "contracts.models.Grant.State",
        "ObjectionStateEnum": "contracts.models.Objection.State",
        "ObjectionGroundEnum": "contracts.models.Objection.Ground",
        "ErasureRequestStateEnum": "contracts.models.ErasureRequest.State",
        "ErasureGroundEnum": "contracts.models.ErasureRequest.Ground",
        "OrderStateEnum": "contracts.models.Order.State",
        "VerificationStateEnum": "audit.models.Verification.State",
    },
}

# Unset: tasks run eagerly in-process (the in-memory transport is named only so that
# Celery does not go looking for a default AMQP broker).
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TIMEZONE = "UTC"
# Workflow deadlines, in working days (contracts.calendar).
SHULIAN_SHARING_REVIEW_DAYS = int(os.environ.get("SHULIAN_SHARING_REVIEW_DAYS", "5"))
SHULIAN_OBJECTION_ACCEPT_DAYS = int(os.environ.get("SHULIAN_OBJECTION_ACCEPT_DAYS", "2"))
SHULIAN_OBJECTION_RESOLVE_DAYS = int(os.environ.get("SHULIAN_OBJECTION_RESOLVE_DAYS", "15"))
SHULIAN_OBJECTION_APPEAL_DAYS = int(os.environ.get("SHULIAN_OBJECTION_APPEAL_DAYS", "15"))
# Terms, in calendar months (contracts.deadlines): the longest sharing request, and so grant.
SHULIAN_SHARING_MAX_MONTHS = _env_int("SHULIAN_SHARING_MAX_MONTHS", 12)

# Erasure requests (个人信息删除请求): decided, and a refusal appealed, within these.
SHULIAN_ERASURE_DAYS = int(os.environ.get("SHULIAN_ERASURE_DAYS", "15"))
SHULIAN_ERASURE_APPEAL_DAYS = int(os.environ.get("SHULIAN_ERASURE_APPEAL_DAYS", "15"))


def _retention_from_env() -> dict[str, float | None]:
    """SHULIAN_RETENTION: a JSON object of payload kind -> days (a number >= 0, or null to
    keep that kind); contracts.personal holds the defaults and refuses unknown kinds."""
    import json

    from django.core.exceptions import ImproperlyConfigured

    text = os.environ.get("SHULIAN_RETENTION", "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"SHULIAN_RETENTION is not JSON: {exc}") from None
    if not isinstance(value, dict) or not all(
        days is None or (isinstance(days, int | float) and not isinstance(days, bool)
                         and days >= 0) for days in value.values()
    ):
        raise ImproperlyConfigured("SHULIAN_RETENTION must be a JSON object of payload kind "
                                   "-> days (a number >= 0) or null")
    return value


# Retention of personal information per payload kind, in days, over contracts.personal's
# defaults: e.g. {"contracts.objection.contact": 365}.
SHULIAN_RETENTION = _retention_from_env()
# Tests with a live worker: run the workflow beat tasks every N seconds instead.
_BEAT_SECONDS = float(os.environ.get("SHULIAN_BEAT_SECONDS", "0")) or None
CELERY_BEAT_SCHEDULE = {
    "seal-checkpoint": {"task": "ledger.tasks.seal_checkpoint", "schedule": 60.0},
    "escalate-overdue": {"task": "contracts.tasks.escalate_overdue",
                         "schedule": _BEAT_SECONDS or 300.0},
    "expire-grants": {"task": "contracts.tasks.expire_grants",
                      "schedule": _BEAT_SECONDS or 60.0},
    "collect-cosignatures": {"task": "ledger.tasks.collect_cosignatures", "schedule": 60.0},
    "erase-expired-personal-information": {
        "task": "contracts.tasks.erase_expired_personal_information",
        "schedule": _BEAT_SECONDS or 3600.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SHULIAN_LOG_LEVEL", "WARNING")},
}
