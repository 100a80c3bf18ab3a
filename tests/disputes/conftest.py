import pytest

from tests.disputes.helpers import disputed_table


@pytest.fixture
def world(db):
    """numpy (steward alice) with a table naming bob 30% and github:octocat 10%;
    carol says bob's share is hers; dana is an ombudsman, erin another."""
    return disputed_table(ombudsmen=("dana", "erin"))
