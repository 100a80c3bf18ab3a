import datetime as dt

import pytest

from tests.factories import CompanyFactory, CompanyMemberFactory, ProjectFactory, UserFactory


@pytest.fixture
def owner(db):
    return UserFactory(username="olivia")


@pytest.fixture
def finance(db):
    return UserFactory(username="fiona")


@pytest.fixture
def viewer(db):
    return UserFactory(username="victor")


@pytest.fixture
def staff(db):
    return UserFactory(username="sam", is_staff=True)


@pytest.fixture
def outsider(db):
    """A member of another company."""
    user = UserFactory(username="oscar")
    CompanyMemberFactory(company=CompanyFactory(slug="globex", name="Globex"), user=user)
    return user


@pytest.fixture
def company(db, owner, finance, viewer):
    c = CompanyFactory(slug="acme", name="ACME Corp", kind="startup")
    CompanyMemberFactory(company=c, user=owner, role="owner")
    CompanyMemberFactory(company=c, user=finance, role="finance")
    CompanyMemberFactory(company=c, user=viewer, role="viewer")
    return c


@pytest.fixture
def fund(db, owner):
    c = CompanyFactory(slug="seedfund", name="Seed Fund LP", kind="vc_fund")
    CompanyMemberFactory(company=c, user=owner, role="owner")
    return c


@pytest.fixture
def dependency(db):
    return ProjectFactory(slug="numpy", name="NumPy")


TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="session")
def stripe_server():
    """One local Stripe test server for the session (see docs/local-stripe.md)."""
    from tests.payouts.stripe_fixtures import start_server

    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def local_stripe(stripe_server, settings):
    """The server, reset, with FairOSS's settings pointing at it; yields its Control."""
    from tests.payouts.stripe_fixtures import TEST_KEY, Control

    control = Control(stripe_server.url)
    control.reset()
    settings.STRIPE_API_BASE = stripe_server.url
    settings.STRIPE_SECRET_KEY = TEST_KEY
    return control
