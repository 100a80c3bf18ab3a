"""What the dispute tests start from (the ``world`` fixture, the browser test, a filed dispute)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from disputes.models import Dispute
from tests.factories import (
    DisputeFactory,
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


def file_dispute(w: SimpleNamespace, **kw: Any) -> Dispute:
    """carol's dispute (in ``disputed_table`` ``w``): bob's entry credits her parser work to
    him; ``kw`` overrides any field."""
    args: dict[str, Any] = dict(
        filer=w.carol,
        target=f"table_entry:{w.entry.pk}",
        kind=Dispute.Kind.MISSING_CREDIT,
        title="My parser work is credited to bob",
        description="I wrote the parser (PR 12); bob's 30% should be mine.",
        links=["https://github.com/numpy/numpy/pull/12"],
    )
    args.update(kw)
    return cast(Dispute, DisputeFactory(**args))
