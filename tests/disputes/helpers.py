"""What the dispute tests start from (the ``world`` fixture, and the browser test)."""

from __future__ import annotations

from types import SimpleNamespace

from tests.factories import (
    OmbudsmanFactory,
    ProjectFactory,
    TableVersionFactory,
    UserFactory,
    credit,
)


def disputed_table(ombudsmen: tuple[str, ...]) -> SimpleNamespace:
    """numpy (steward alice) with a table naming bob 30% and github:octocat 10%; bob has
    500.00 available, carol an account (she says bob's share is hers); ``ombudsmen`` are
    the usernames of the ombudsmen. Everyone is an attribute, with ``project``,
    ``version`` and bob's ``entry``."""
    people = {name: UserFactory(username=name) for name in ("alice", "bob", "carol")}
    people |= {name: OmbudsmanFactory(username=name) for name in ombudsmen}
    world = SimpleNamespace(**people)
    world.project = ProjectFactory(slug="numpy", name="NumPy", steward=world.alice)
    world.version = TableVersionFactory(
        project=world.project,
        actor=world.alice,
        entries=[("user:bob", 3_000_000), ("github:octocat", 1_000_000)],
    )
    world.entry = world.version.entries.get(recipient="user:bob")
    credit("user:bob", 50_000)
    return world
