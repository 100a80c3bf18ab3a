import os

import pytest

from tests.fixture_helpers import user_fixture

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from that
# thread are still synchronous, so the async-safety guard is switched off for tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

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
