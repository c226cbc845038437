"""Production: everything secret or site-specific comes from the environment."""

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403  (settings modules extend the base by design)
from .base import VERIFY_RATE  # named: this module may change it


def _required(name):
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"Set the environment variable {name} for production.")
    return value


DEBUG = False
SECRET_KEY = _required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = [host.strip() for host in _required("DJANGO_ALLOWED_HOSTS").split(",") if host]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin
]
DATABASES = {
    "default": dj_database_url.parse(
        _required("DATABASE_URL"), conn_max_age=600, conn_health_checks=True
    )
}

# Uploaded files (photos of returned units) live outside the code, on a disk that is backed up;
# they are served only through permission-checked views, never by the web server from MEDIA_URL.
MEDIA_ROOT = os.environ.get("DJANGO_MEDIA_ROOT", "/var/lib/tracewell/media")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS everywhere; a reverse proxy that terminates TLS must set X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "true").lower() != "false"
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "recalls@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

# Background jobs (imports, large recalls) run in a Celery worker when a broker is set:
#   REDIS_URL=redis://127.0.0.1:6379/0  celery -A traceability worker
# Their progress goes through the cache, which the worker and every web process must share.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL).strip()
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
JOBS_BACKEND = "celery" if CELERY_BROKER_URL else "thread"
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }

# Public verification: the host printed in labels' QR codes (e.g. https://verify.example.com),
# the proxies whose X-Forwarded-For names the client, and how consumers reach us.
DIGITAL_LINK_BASE_URL = os.environ.get("DIGITAL_LINK_BASE_URL", "").strip().rstrip("/")
VERIFY_TRUSTED_PROXIES = int(os.environ.get("VERIFY_TRUSTED_PROXIES", "0"))
VERIFY_RATE = os.environ.get("VERIFY_RATE", VERIFY_RATE)
VERIFY_CONTACT = os.environ.get("VERIFY_CONTACT", "").strip()

# Sign-in lockouts (django-axes) count failures per user name and client address: behind the
# same trusted proxies as above, the address is the one they put in X-Forwarded-For.
if VERIFY_TRUSTED_PROXIES:
    AXES_IPWARE_PROXY_COUNT = VERIFY_TRUSTED_PROXIES
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# A session ends after a working day without signing in again, and when the browser closes.
SESSION_COOKIE_AGE = int(os.environ.get("DJANGO_SESSION_HOURS", "10")) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
