import pytest

from tests.factories import CompanyFactory, CompanyMemberFactory, ProjectFactory, UserFactory
from tests.fixture_helpers import user_fixture

owner = user_fixture("olivia")
finance = user_fixture("fiona")
viewer = user_fixture("victor")


@pytest.fixture
def outsider(db):
    """A member of another company."""
    user = UserFactory(username="oscar")
    CompanyMemberFactory(company=CompanyFactory(slug="globex", name="Globex"), user=user)
    return user


@pytest.fixture
def company(db, owner, finance, viewer):
    """ACME Corp: olivia its owner, fiona finance, victor a viewer."""
    c = CompanyFactory(slug="acme", name="ACME Corp", kind="startup", owner=owner)
    CompanyMemberFactory(company=c, user=finance, role="finance")
    CompanyMemberFactory(company=c, user=viewer, role="viewer")
    return c


@pytest.fixture
def fund(db, owner):
    """A VC fund company, olivia its owner."""
    return CompanyFactory(slug="seedfund", name="Seed Fund LP", kind="vc_fund", owner=owner)


@pytest.fixture
def dependency(db):
    """The NumPy project (no members): what company tables name."""
    return ProjectFactory(slug="numpy", name="NumPy")
