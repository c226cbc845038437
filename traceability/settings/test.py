"""The test suite: fast hashing, in-memory e-mail, static files without a manifest."""

from .development import *  # noqa: F403  (settings modules extend the base by design)

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Background work runs at once, inside the request, so a test sees its outcome; the tests of the
# job machinery itself switch to threads.
JOBS_BACKEND = "inline"
