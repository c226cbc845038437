"""Settings shared by every environment; the environment modules override what differs."""

from pathlib import Path

import dj_database_url
from csp.constants import NONCE

BASE_DIR = Path(__file__).resolve().parent.parent.parent

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "simple_history",
    "import_export",
    "axes",
    "csp",
    "pgtrigger",
    "inventory",
    "recalls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "traceability.timezones.TimezoneMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "traceability.roles.RoleRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it answers a locked-out sign-in.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "traceability.urls"

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
                "traceability.roles.roles_context",
            ],
        },
    },
]

WSGI_APPLICATION = "traceability.wsgi.application"
ASGI_APPLICATION = "traceability.asgi.application"

# SQLite in the project folder unless DATABASE_URL names another one (PostgreSQL in production).
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Trace queries and bulk imports hold the write lock briefly; wait for it rather than fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five failed sign-ins for one user name from one address lock that pair out for an hour (an
# administrator can lift it sooner: Admin → Axes → Access attempts, or `axes_reset`). Keying on
# the pair, not the name alone, keeps a stranger from locking a colleague out on purpose.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"

# Content Security Policy (django-csp): scripts, styles, images and fonts come from our own
# files only, never from markup inline; nothing may frame our pages or post forms elsewhere.
# Images may also be data: URIs (the label pages draw their codes as such).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # A printable document shown as HTML carries its own styles, allowed by a nonce.
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"

# Spreadsheet import and export in the admin (django-import-export; see inventory/resources.py).
# Every import runs in one transaction and is rolled back if any row is invalid; importing needs
# the add permission (the admin also asks for change), exporting the view permission. Imports
# also appear in the admin's recent actions; simple_history keeps the full audit trail.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# The product's name, shown in the header, the admin and reports.
PRODUCT_NAME = "Tracewell"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# Long work started from a page (inventory/jobs.py): "thread" runs it in the web process, which
# needs nothing set up; production runs it in a Celery worker.
JOBS_BACKEND = "thread"

# Public verification (/01/<gtin>/21/<serial>, /verify/): checks allowed per client, the
# django-ratelimit rate; the counterfeit flag for one serial checked from many clients; the
# number of reverse proxies in front of us whose X-Forwarded-For is trusted (0: REMOTE_ADDR).
VERIFY_RATE = "30/m"
VERIFY_FLAG_CLIENTS = 5
VERIFY_FLAG_WINDOW_SECONDS = 3600
VERIFY_TRUSTED_PROXIES = 0
# How a consumer reaches us, shown with recall notices and unconfirmed answers.
VERIFY_CONTACT = ""
# Where a label's QR code (a GS1 Digital Link) points: our own host, so a scan opens the
# verification page. Empty: the scheme and host of the request that prints the label.
DIGITAL_LINK_BASE_URL = ""
