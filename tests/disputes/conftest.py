import pytest

from payouts.ledger import Leg, ledger_post
from projects.services.tables import EntryInput, table_propose
from tests.factories import MembershipFactory, OmbudsmanFactory, ProjectFactory, UserFactory


def fund(owner, amount, purpose="available", currency="usd", key=None):
    """Credit ``owner`` as a distribution would: platform pool → owner's purpose."""
    txn, _ = ledger_post(
        idempotency_key=key or f"test-fund:{owner}:{purpose}:{currency}:{amount}",
        kind="distribution",
        reference="test",
        legs=[
            Leg("platform", "pool", currency, -amount),
            Leg(owner, purpose, currency, amount),
        ],
    )
    return txn


@pytest.fixture
def world(db):
    """numpy (steward alice) with a table naming bob 30% and github:octocat 10%;
    carol says bob's share is hers; dana is an ombudsman, erin another."""
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    carol = UserFactory(username="carol")
    dana = OmbudsmanFactory(username="dana")
    erin = OmbudsmanFactory(username="erin")
    project = ProjectFactory(slug="numpy", name="NumPy")
    MembershipFactory(project=project, user=alice, role="steward")
    version = table_propose(
        owner_key="project:numpy",
        actor=alice,
        entries=[EntryInput("user:bob", 3_000_000), EntryInput("github:octocat", 1_000_000)],
    )
    entry = version.entries.get(recipient="user:bob")
    fund("user:bob", 50_000)
    return type(
        "World",
        (),
        dict(
            alice=alice,
            bob=bob,
            carol=carol,
            dana=dana,
            erin=erin,
            project=project,
            version=version,
            entry=entry,
        ),
    )
