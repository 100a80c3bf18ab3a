import pytest

from companies.models import CompanyMember
from tests.factories import (
    AgreementFactory,
    CompanyFactory,
    CompanyMemberFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
    credit,
)
from tests.fixture_helpers import user_fixture

olivia = user_fixture("olivia")  # ACME's owner
stella = user_fixture("stella")  # NumPy's steward
alice = user_fixture("alice")  # named in NumPy's table


@pytest.fixture
def numpy(db, stella, alice):
    """NumPy, verified: stella its steward; its table gives alice 60% (40% reserve)."""
    project = ProjectFactory(slug="numpy", name="NumPy", steward=stella)
    TableVersionFactory(
        owner_key=project.owner_key, actor=stella, entries=[("user:alice", 6_000_000)]
    )
    return project


@pytest.fixture
def acme(db, olivia, numpy):
    """ACME Corp, olivia its owner; its table gives NumPy 50%."""
    company = CompanyFactory(slug="acme", name="ACME Corp", owner=olivia)
    TableVersionFactory(
        owner_key=company.owner_key, actor=olivia, entries=[("project:numpy", 5_000_000)]
    )
    return company


@pytest.fixture
def acme_reserve(acme):
    """$100.00 in ACME's reserve (what its table kept in an earlier run)."""
    credit(acme.owner_key, 10_000, purpose="reserve")
    return 10_000


@pytest.fixture
def equity(acme, olivia):
    """An active equity agreement of ACME: 75% time vesting (12-month cliff, 48 months),
    25% on the milestone 'Plugin API shipped'."""
    return AgreementFactory(
        company=acme,
        kind="equity",
        actor=olivia,
        time_vesting_millibips=7_500_000,
        milestones=[{"title": "Plugin API shipped", "millibips": 2_500_000}],
    )


@pytest.fixture
def viewer(acme):
    user = UserFactory(username="victor")
    CompanyMemberFactory(company=acme, user=user, role=CompanyMember.Role.VIEWER)
    return user
