"""The test suite: fast hashing, in-memory e-mail, static files without a manifest."""

from .development import *  # noqa: F403  (settings modules extend the base by design)
from .development import DATABASES  # named: this module changes it

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
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The in-memory test database is shared between threads (a background job's, the browser
    # tests' live server) through SQLite's shared cache, where a reader's table lock fails a
    # writer at once ("database table is locked") instead of making it wait. Readers that take
    # no table locks keep a job's writes and a page's reads out of each other's way.
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA read_uncommitted = true;"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A test database is thrown away: commits need not wait for the disk (a transactional
    # test commits and flushes many times). Nothing else about PostgreSQL changes.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"
