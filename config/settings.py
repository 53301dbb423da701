"""Settings, read from the environment. See README "Configuration" for every variable.

Embedded default (no variables set): SQLite in WAL mode under ``$SHULIAN_DATA_DIR``
(default ``./var/``), eager Celery tasks, a master key generated into the data dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from kernel.secrets import load_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SHULIAN_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("SHULIAN_DEBUG")
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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
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
    "kernel.request_cache.RequestCacheMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

_default_db = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_db), conn_max_age=60
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
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None

LANGUAGE_CODE = os.environ.get("SHULIAN_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Plain names (no manifest): whitenoise serves them from the finders and STATIC_ROOT.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests and `runserver` serve static files straight from the app folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "kernel.drf.Pagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "kernel.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["kernel.drf.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shulian (数链) API",
    "DESCRIPTION": (
        "A permissioned SM2/SM3 ledger for the public-data economy. Every write returns the "
        "ledger entry (seq, leaf hash) it appended. Errors: 400 names each field and reason, "
        "403 forbidden action, 404 missing or invisible object, 409 illegal state transition."
    ),
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    # Choice sets shared by several components get one stable name each.
    "ENUM_NAME_OVERRIDES": {
        "ParticipantKindEnum": "operators.models.Kind",
        "ParticipantStatusEnum": "operators.models.Status",
        "ResourceStatusEnum": "catalog.models.ResourceStatus",
        "ProductStatusEnum": "catalog.models.ProductStatus",
        "SharingRequestStateEnum": "contracts.models.SharingRequest.State",
        "AgreementStateEnum": "contracts.models.OperationAgreement.State",
        "GrantStateEnum": "contracts.models.Grant.State",
        "ObjectionStateEnum": "contracts.models.Objection.State",
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
