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
# Developers try outgoing webhooks with a receiver on their own machine.
FAIROSS_WEBHOOK_ALLOWED_NETWORKS = env.list(
    "FAIROSS_WEBHOOK_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
)
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
# No hosted service is called from the embedded default: the ownership checks (repository
# token, GitHub permission, PyPI/npm maintainers) go to a local address, where nothing
# answers unless you start a stand-in there, so a check says the host could not be reached;
# staff verify demo projects by hand. Set these to the real hosts to try the checks.
FAIROSS_GITHUB_API_URL = env("FAIROSS_GITHUB_API_URL", default="http://127.0.0.1:12112/github-api")
FAIROSS_GITHUB_RAW_URL = env("FAIROSS_GITHUB_RAW_URL", default="http://127.0.0.1:12112/raw")
FAIROSS_PYPI_URL = env("FAIROSS_PYPI_URL", default="http://127.0.0.1:12112/pypi")
FAIROSS_NPM_URL = env("FAIROSS_NPM_URL", default="http://127.0.0.1:12112/npm")
