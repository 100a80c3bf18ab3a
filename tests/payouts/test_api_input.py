"""Bad input to the payouts API: a 400 naming the field, never a 500, nothing stored.

``POST /api/v1/distributions/`` and ``POST /api/v1/payout-runs/`` take no input; the
balances call parses its recipient (from the path) through ``payouts.api.BalancesInput``.
``POST /api/v1/inflows/`` lives in companies (tests/companies/test_api_input.py).
"""

from urllib.parse import quote

import pytest

from payouts.models import DistributionRun, PayoutRun

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("recipient", "words"),
    [
        ("robot:x", "is not a recipient"),
        ("numpy", "is not a recipient"),
        ("project:", "after the colon"),
        ("project:Not_A_Slug", "project slug"),
        ("github:-octocat", "GitHub login"),
        ("email:not-an-address", "valid email"),
        ("purl:pkg:pypi/requests@2.0", "version"),
        ("purl:requests", "pkg:"),
        (" github:octocat", "spaces"),
        ("github:octo\x00cat", "NUL"),
        ("company:", "company slug"),
        ("github:" + "a" * 300, "300"),
    ],
)
def test_bad_balance_recipient_is_a_400_naming_it(api_client, recipient, words):
    r = api_client.get(f"/api/v1/balances/{quote(recipient, safe=':/@')}/")
    assert r.status_code == 400, r.content
    messages = r.json()["recipient"]
    assert isinstance(messages, list) and words in " ".join(messages)


def test_unknown_company_is_a_404_and_known_recipients_answer(api_client):
    r = api_client.get("/api/v1/balances/company:ghost/")
    assert r.status_code == 404 and "recipient" in r.json()
    r = api_client.get("/api/v1/balances/email:z@example.org/")
    assert r.status_code in (200, 404)
    assert api_client.get("/api/v1/balances/project:numpy/").status_code == 200


def test_nul_in_the_query_string_is_a_400_naming_the_field(api_client):
    r = api_client.get("/api/v1/balances/project:numpy/?format=js%00on")
    assert r.status_code == 400
    assert "NUL" in r.json()["format"][0]


def test_run_endpoints_take_no_input():
    """Their schema has no request body (and the views never read one)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path in ("/api/v1/distributions/", "/api/v1/payout-runs/"):
        assert "requestBody" not in schema["paths"][path]["post"]


def test_bad_input_stores_nothing(api_client):
    api_client.get("/api/v1/balances/robot:x/")
    api_client.get("/api/v1/balances/github:a%00b/")
    assert not DistributionRun.objects.exists() and not PayoutRun.objects.exists()
