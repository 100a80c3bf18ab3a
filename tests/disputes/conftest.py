import pytest

from tests.disputes.helpers import disputed_table
from tests.factories import DisputeFactory


@pytest.fixture
def world(db):
    """numpy (steward alice) with a table naming bob 30% and github:octocat 10%;
    carol says bob's share is hers; dana is an ombudsman, erin another."""
    return disputed_table(ombudsmen=("dana", "erin"))


@pytest.fixture
def dispute(world):
    """carol's missing-credit dispute over bob's entry, 200.00 USD at stake."""
    return DisputeFactory(
        filer=world.carol,
        target=f"table_entry:{world.entry.pk}",
        kind="missing_credit",
        title="Credit me",
        description="I wrote it",
        amount_at_stake=20_000,
        currency="usd",
    )
