"""Test settings: PostgreSQL and Redis on 127.0.0.1, never SQLite."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-secret")

from .base import *  # noqa: F403
from .base import PRIVATE_MEDIA_ROOT, env

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/faiross")
}
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/15")
CELERY_BROKER_URL = REDIS_URL
# Most tests call tasks in-process; the tests marked "celery" start a real worker on Redis.
CELERY_TASK_ALWAYS_EAGER = True
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# Tests see every change at once; tests/faiross/test_page_cache.py turns the page cache on.
FAIROSS_PAGE_CACHE_SECONDS = 0
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Tax forms and other personal documents: outside MEDIA_ROOT, served only through views
    # that check who asks.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STRIPE_SECRET_KEY = "sk_test_faiross_tests"
STRIPE_WEBHOOK_SECRET = "whsec_faiross_tests"
# Outgoing webhooks are tested against a receiver on this machine.
FAIROSS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
# FAIROSS_EAGER=0 lets a test run tasks on a real Celery worker (the "celery" marker).
CELERY_TASK_ALWAYS_EAGER = env.bool("FAIROSS_EAGER", default=True)
