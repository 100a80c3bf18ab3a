"""Settings shared by every environment; everything that differs comes from the environment."""

from pathlib import Path

import environ

# The kernel's shares module loads no settings and no apps, so settings may import it.
from faiross.kernel.shares import FULL_SHARE

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
SITE_URL = env("FAIROSS_SITE_URL", default="http://127.0.0.1:8000")
# What mails and pages call the site (projects/adapters.py; not the django.contrib.sites row).
FAIROSS_SITE_NAME = env("FAIROSS_SITE_NAME", default="FairOSS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from static files
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    # In layer order: each app may import only those above it in this list (import-linter).
    "projects",
    "payouts",
    "companies",
    "disputes",
    "market",
    "asks",
    "devtools",
    # Last: verifies at start-up that every registry a lower app declared was filled.
    "faiross.apps.FairossConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language (and so how numbers are read and written) from Accept-Language or the
    # language cookie, within LANGUAGES.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Marks the session's user with whether this session signed in with a second factor
    # (a company's "require MFA" rule asks it).
    "projects.auth.SessionSecondFactorMiddleware",
    "projects.middleware.RejectNulBytesMiddleware",
]

ROOT_URLCONF = "faiross.urls"
WSGI_APPLICATION = "faiross.wsgi.application"
ASGI_APPLICATION = "faiross.asgi.application"
SITE_ID = 1

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
                "projects.context_processors.portal",
            ],
        },
    }
]

# With no DATABASE_URL the embedded default is a SQLite file in var/.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs the web server, the local Stripe server's webhooks and the
    # in-process tasks against one file at the same time. SQLite's defaults (rollback
    # journal, deferred transactions, 5 s timeout) answered a Checkout return with "database
    # is locked": a deferred transaction that read first cannot upgrade to a write lock while
    # another writer holds it, and the retry never happens. WAL lets readers go on while one
    # writes; IMMEDIATE takes the write lock when a transaction starts, so a writer waits in
    # the busy timeout instead of failing half-way; synchronous=NORMAL is WAL's safe setting.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("FAIROSS_SQLITE_TIMEOUT", default=30),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Rate-limit counters (sign-in, API tokens) and used TOTP codes. The default is per process;
# with several web processes set FAIROSS_CACHE_URL (e.g. redis://host:6379/2, a Redis database
# of its own) so that they count together.
CACHES = {"default": env.cache("FAIROSS_CACHE_URL", default="locmemcache://")}
# Public pages for anonymous visitors are cached this long at most (faiross/kernel/page_cache.py).
FAIROSS_PAGE_CACHE_SECONDS = env.int("FAIROSS_PAGE_CACHE_SECONDS", default=60)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
# Money and percentages are typed and shown by the person's language (faiross.kernel.numbers).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env("FAIROSS_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"
PRIVATE_MEDIA_ROOT = env("FAIROSS_PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Tax forms and other personal documents: outside MEDIA_ROOT, served only through views
    # that check who asks.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_REDIRECT_URL = "dashboard"
LOGIN_URL = "account_login"

# django-allauth: email + password with a verified address, GitHub, MFA.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[FairOSS] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("FAIROSS_HTTP_PROTOCOL", default="http")
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "FairOSS"
# A code of the previous or next 30-second step is accepted too: phones' clocks drift, and a
# code typed at the end of its step must not fail on arrival.
MFA_TOTP_TOLERANCE = 1
ACCOUNT_ADAPTER = "projects.adapters.AccountAdapter"
# Sign-in rate limits (allauth; answered with 429 and Retry-After by
# projects.account_views.too_many_requests). Counted in CACHES.
ACCOUNT_RATE_LIMITS = {
    "login": env("FAIROSS_RATE_LOGIN", default="30/m/ip"),
    # Failed sign-ins: per address, and per account whatever the address.
    "login_failed": env("FAIROSS_RATE_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "signup": env("FAIROSS_RATE_SIGNUP", default="20/m/ip"),
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
# Kept so that FairOSS can ask GitHub, as the signed-in person, whether they administer or
# maintain a project's repository (projects/verification/, issue 11).
SOCIALACCOUNT_STORE_TOKENS = True
SOCIALACCOUNT_PROVIDERS = {
    "github": {
        "SCOPE": ["read:user", "user:email"],
        # Keys come from the environment; without them the provider is listed but not offered.
        "APPS": [
            {
                "client_id": env("GITHUB_CLIENT_ID", default=""),
                "secret": env("GITHUB_CLIENT_SECRET", default=""),
                "key": "",
            }
        ]
        if env("GITHUB_CLIENT_ID", default="")
        else [],
    }
}

DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="FairOSS <noreply@faiross.localhost>")
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so a bad or missing token answers 401 with WWW-Authenticate.
        "projects.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "faiross.kernel.api_errors.exception_handler",
    # POST /api/v1/auth/token/ (projects/account_api.py): per client address and per username.
    "DEFAULT_THROTTLE_RATES": {
        "auth_token": env("FAIROSS_RATE_API_TOKEN", default="10/min"),
        "auth_token_username": env("FAIROSS_RATE_API_TOKEN_USERNAME", default="5/min"),
    },
    # JSON bodies with a NUL character anywhere are a 400 naming the field.
    "DEFAULT_PARSER_CLASSES": [
        "faiross.kernel.api_parsers.NulRefusingJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FairOSS API",
    "DESCRIPTION": "API v1: projects, share tables, companies, inflows, distributions, balances.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ and /api/redoc/ load their JavaScript from our static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets shared by several input serializers get one enum each, named here.
    "ENUM_NAME_OVERRIDES": {
        "AgreementKindEnum": "companies.models.Agreement.Kind",
        "CompanyKindEnum": "companies.models.Company.Kind",
        "LiquidityEventKindEnum": "companies.models.LiquidityEvent.Kind",
        "VerificationMethodEnum": "projects.models.ProjectVerification.Method",
    },
}

# Celery: with no REDIS_URL tasks run in-process (the embedded default).
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# Stripe: the embedded default and the tests use the local Stripe-compatible test server.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")

# Project rules (documented in the README).
FAIROSS_MAX_PURLS_PER_PROJECT = 50
# Active API tokens one person may have (revoke old ones on the settings page).
# Salts the leaves of published runs' Merkle trees (docs/verifiable-runs.md); kept apart from
# SECRET_KEY so that rotating that key does not make proofs of past runs impossible to issue.
FAIROSS_RUN_SALT_SECRET = env("FAIROSS_RUN_SALT_SECRET", default="")
FAIROSS_API_TOKENS_MAX = env.int("FAIROSS_API_TOKENS_MAX", default=50)
# Ownership checks (projects/verification/): where FairOSS asks, through the one outbound
# client (faiross/kernel/outbound.py) with these limits. Tests point them at a local server.
FAIROSS_GITHUB_API_URL = env("FAIROSS_GITHUB_API_URL", default="https://api.github.com")
FAIROSS_GITHUB_RAW_URL = env("FAIROSS_GITHUB_RAW_URL", default="https://raw.githubusercontent.com")
FAIROSS_PYPI_URL = env("FAIROSS_PYPI_URL", default="https://pypi.org")
FAIROSS_NPM_URL = env("FAIROSS_NPM_URL", default="https://registry.npmjs.org")
FAIROSS_OUTBOUND_TIMEOUT_SECONDS = env.float("FAIROSS_OUTBOUND_TIMEOUT_SECONDS", default=10.0)
FAIROSS_OUTBOUND_MAX_BYTES = env.int("FAIROSS_OUTBOUND_MAX_BYTES", default=2 * 1024 * 1024)
# npm's package documents list every version ever published, so they are larger.
FAIROSS_NPM_MAX_BYTES = env.int("FAIROSS_NPM_MAX_BYTES", default=32 * 1024 * 1024)
# Outgoing webhooks (projects/webhooks/, docs/webhooks.md): URLs people type in, so only public
# addresses are called unless a network is listed here (CIDRs; e.g. a local test receiver).
FAIROSS_WEBHOOK_ALLOWED_NETWORKS = env.list("FAIROSS_WEBHOOK_ALLOWED_NETWORKS", default=[])
FAIROSS_WEBHOOK_TIMEOUT_SECONDS = env.float("FAIROSS_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Attempts before a delivery is marked failed; the waits double from the base, capped, jittered.
FAIROSS_WEBHOOK_MAX_ATTEMPTS = env.int("FAIROSS_WEBHOOK_MAX_ATTEMPTS", default=8)
FAIROSS_WEBHOOK_RETRY_BASE_SECONDS = env.float("FAIROSS_WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
FAIROSS_WEBHOOK_RETRY_MAX_SECONDS = env.float("FAIROSS_WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
FAIROSS_WEBHOOK_ENDPOINTS_MAX = env.int("FAIROSS_WEBHOOK_ENDPOINTS_MAX", default=10)

# Client IP of signature records (faiross.kernel.http.client_ip; README "Production"): how many
# reverse proxies in front of FairOSS append to X-Forwarded-For. 0 = REMOTE_ADDR only.
FAIROSS_TRUSTED_PROXY_COUNT = env.int("FAIROSS_TRUSTED_PROXY_COUNT", default=0)
# Optional: their addresses or networks, one per hop, the one nearest the client first.
FAIROSS_TRUSTED_PROXIES = env.list("FAIROSS_TRUSTED_PROXIES", default=[])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
# The default table of a project that declared none: this share (millibips) is split evenly
# over its known dependencies, the rest is its reserve (escrow while unclaimed). Must stay
# below FULL_SHARE (10,000,000 = 100%) so that default tables can never close a cycle.
FAIROSS_DEFAULT_DEPENDENCY_SHARE = env.int("FAIROSS_DEFAULT_DEPENDENCY_SHARE", default=2_000_000)
if not 0 <= FAIROSS_DEFAULT_DEPENDENCY_SHARE < FULL_SHARE:
    raise ValueError("FAIROSS_DEFAULT_DEPENDENCY_SHARE must be from 0 to 9,999,999 millibips")
FAIROSS_CURRENCIES = env.list("FAIROSS_CURRENCIES", default=["usd", "eur", "gbp", "chf", "cad"])

# Payouts (issue 6; documented in the README). Amounts are minor units of each currency.
STRIPE_CONNECT_WEBHOOK_SECRET = env("STRIPE_CONNECT_WEBHOOK_SECRET", default="")
STRIPE_CONNECT_COUNTRY = env("STRIPE_CONNECT_COUNTRY", default="US")
# Client-side limit on Stripe API calls per second (Stripe allows 100 live, 25 test): shared by
# all processes through Redis when REDIS_URL is set, else per process (payouts/stripe_client.py).
STRIPE_RATE_LIMIT = env.float("STRIPE_RATE_LIMIT", default=20.0)
# Calls let through at once before the rate applies (0: one second's worth); burst + rate per
# second is the most that goes out in any one second. The Redis key's name (faiross:stripe-rate:
# <bucket>): processes calling one Stripe account share one bucket.
STRIPE_RATE_BURST = env.float("STRIPE_RATE_BURST", default=0.0)
STRIPE_RATE_BUCKET = env("STRIPE_RATE_BUCKET", default="api")
STRIPE_TIMEOUT_SECONDS = env.int("STRIPE_TIMEOUT_SECONDS", default=30)
FAIROSS_PAYOUT_THRESHOLD_MIN = env.int("FAIROSS_PAYOUT_THRESHOLD_MIN", default=500)
FAIROSS_PAYOUT_THRESHOLD_DEFAULT = env.int("FAIROSS_PAYOUT_THRESHOLD_DEFAULT", default=2500)
if (
    FAIROSS_PAYOUT_THRESHOLD_DEFAULT < FAIROSS_PAYOUT_THRESHOLD_MIN
    or FAIROSS_PAYOUT_THRESHOLD_MIN < 1
):
    raise ValueError("FAIROSS_PAYOUT_THRESHOLD_DEFAULT must be at least the (positive) minimum")
# Paid out to one person in one calendar year and currency above this needs a tax form.
FAIROSS_TAX_FORM_THRESHOLD = env.int("FAIROSS_TAX_FORM_THRESHOLD", default=60000)
# A payout whose outcome is unknown this long is looked up at Stripe before it is sent again
# (Stripe forgets idempotency keys after 24 hours).
FAIROSS_PAYOUT_LOOKUP_AFTER_HOURS = env.int("FAIROSS_PAYOUT_LOOKUP_AFTER_HOURS", default=23)
FAIROSS_PAYOUT_MAX_RETRIES = env.int("FAIROSS_PAYOUT_MAX_RETRIES", default=8)
# Unclaimed escrow returns to the reserve of the table owner that named it after this many days.
FAIROSS_ESCROW_RETURN_DAYS = env.int("FAIROSS_ESCROW_RETURN_DAYS", default=365)
FAIROSS_ESCROW_NOTICE_DAYS = env.int("FAIROSS_ESCROW_NOTICE_DAYS", default=60)
