import pytest

from tests.factories import (
    OmbudsmanFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
    credit,
)


@pytest.fixture
def world(db):
    """numpy (steward alice) with a table naming bob 30% and github:octocat 10%;
    carol says bob's share is hers; dana is an ombudsman, erin another."""
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    carol = UserFactory(username="carol")
    dana = OmbudsmanFactory(username="dana")
    erin = OmbudsmanFactory(username="erin")
    project = ProjectFactory(slug="numpy", name="NumPy", steward=alice)
    version = TableVersionFactory(
        project=project,
        actor=alice,
        entries=[("user:bob", 3_000_000), ("github:octocat", 1_000_000)],
    )
    entry = version.entries.get(recipient="user:bob")
    credit("user:bob", 50_000)
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
