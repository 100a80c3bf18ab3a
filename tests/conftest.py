import os
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.fixture_helpers import user_fixture

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from that
# thread are still synchronous, so the async-safety guard is switched off for tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REDIS_DATABASES = 16  # Redis's default number of databases (0-15)


def _redis_url_for_worker(url: str, index: int) -> str:
    """``url`` with its database number moved on by ``index`` (wrapping at 16)."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    base = int(path) if path.isdigit() else 0
    return urlunsplit(parts._replace(path=f"/{(base + index) % REDIS_DATABASES}"))


def _isolate_xdist_worker() -> None:
    """Under pytest-xdist (``-n``) each worker process (gw0, gw1, ...) gets what must not be
    shared: pytest-django already gives it its own database (test_<name>_gw0, ...); here it
    gets its own Redis database (REDIS_URL's number + the worker's index), so one worker's
    Celery broker (the real-worker test purges it) and Stripe rate-limit bucket are not
    another's. pytest-django loads Django's settings before any conftest, so they are changed
    here, before anything reads them (the Celery app reads its configuration lazily);
    processes the tests start inherit REDIS_URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    from django.conf import settings

    if not settings.configured:  # pytest -p no:django
        return
    index = int(worker[2:])
    if settings.REDIS_URL:
        url = _redis_url_for_worker(settings.REDIS_URL, index)
        settings.REDIS_URL = settings.CELERY_BROKER_URL = os.environ["REDIS_URL"] = url
        from faiross.celery import app

        if app.configured:  # type: ignore[attr-defined]
            app.conf.broker_url = url  # type: ignore[misc]


_isolate_xdist_worker()


# Factories are imported inside the fixtures, so the pure tests (engine, importers, the local
# Stripe server) also run without Django: pytest -p no:django.


user = user_fixture("alice")
other_user = user_fixture("mallory")
staff = user_fixture("sam", "StaffFactory", "FairOSS staff: sam.")


@pytest.fixture
def project(db, user):
    """The NumPy project, alice (``user``) its steward."""
    from tests.factories import ProjectFactory

    return ProjectFactory(slug="numpy", name="NumPy", steward=user)


@pytest.fixture(autouse=True)
def english_by_default():
    """Each test starts in English: a test-client request leaves its language active in the
    thread, and a later test calling a service directly would then read numbers in German."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with empty rate-limit counters (sign-in, API tokens) and no used TOTP
    codes: they live in the process's local-memory cache, and the suite signs in many times."""
    from django.conf import settings

    # Only a local-memory cache: clearing a shared one (Redis) would clear others' data too.
    if settings.configured and settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        from django.core.cache import cache

        cache.clear()
    yield


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
