"""The embedded default: SQLite, tasks in-process, mail to the console, local Stripe server."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-secret")
os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: F403
from .base import PRIVATE_MEDIA_ROOT, env

ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_faiross_local")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:12111")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_faiross_local")
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
