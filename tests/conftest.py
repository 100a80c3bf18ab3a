import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from that
# thread are still synchronous, so the async-safety guard is switched off for tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="mallory")


@pytest.fixture
def project(db, user):
    p = ProjectFactory(slug="numpy", name="NumPy")
    MembershipFactory(project=p, user=user, role="steward")
    return p


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
