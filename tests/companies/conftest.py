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
