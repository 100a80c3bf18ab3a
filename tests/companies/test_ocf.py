"""The OCF export of FairOSS's equity position: parses, has the fields OCF requires, and
looks like the Open Cap Table Coalition's samples."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from companies import services
from companies.ocf import canonical, ocf_export
from tests.factories import AgreementFactory, LiquidityEventFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "real-world" / "ocf"


def sample(name):
    path = SAMPLES / f"Open-Cap-Table-Coalition__Open-Cap-Format-OCF__{name}.ocf.json"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return json.loads(path.read_text())


@pytest.fixture
def bundle(company, owner, staff):
    agreement = AgreementFactory(
        company=company, actor=owner, staff=staff, kind="equity", start_date=dt.date(2023, 1, 1)
    )
    services.milestone_mark_met(
        milestone=agreement.milestones.get(), staff=staff, met_on=dt.date(2024, 2, 1)
    )
    LiquidityEventFactory(
        agreement=agreement,
        actor=owner,
        kind="buyback",
        occurred_on="2025-01-10",
        proceeds=2_000_000_000,
        portion_millibips=1_000_000,
    )
    return json.loads(json.dumps(ocf_export(agreement=agreement))), agreement


def test_bundle_is_json_with_a_manifest_that_checks(bundle):
    data, _ = bundle
    manifest = data["Manifest.ocf.json"]
    assert manifest["file_type"] == "OCF_MANIFEST_FILE"
    assert manifest["ocf_version"].startswith("1.")
    for key in (
        "stakeholders_files",
        "stock_classes_files",
        "vesting_terms_files",
        "transactions_files",
    ):
        (ref,) = manifest[key]
        name = ref["filepath"].removeprefix("./")
        assert hashlib.md5(canonical(data[name])).hexdigest() == ref["md5"]
    issuer = manifest["issuer"]
    assert issuer["object_type"] == "ISSUER" and issuer["legal_name"] == "ACME Corp"
    assert issuer["country_of_formation"] == "US"
    dt.date.fromisoformat(manifest["as_of"])
    dt.datetime.fromisoformat(manifest["generated_at"])


def test_files_have_the_sample_shapes(bundle):
    data, _ = bundle
    for name, sample_name in (
        ("Stakeholders", "Stakeholders"),
        ("StockClasses", "StockClasses"),
        ("VestingTerms", "VestingTerms"),
        ("Transactions", "Transactions"),
    ):
        ours = data[f"{name}.ocf.json"]
        theirs = sample(sample_name)
        assert ours["file_type"] == theirs["file_type"]
        ours_types = {i["object_type"] for i in ours["items"]}
        theirs_types = {i["object_type"] for i in theirs["items"]}
        assert ours_types <= theirs_types, (ours_types, theirs_types)
        # every field we use on an object type is one the samples use on it too
        for item in ours["items"]:
            known = set().union(
                *(set(t) for t in theirs["items"] if t["object_type"] == item["object_type"])
            )
            assert set(item) <= known | {
                "comments",
                "vesting_terms_id",
                "resulting_security_ids",
                "consideration_text",
                "price",
            }, item["object_type"]

    (holder,) = data["Stakeholders.ocf.json"]["items"]
    assert holder["name"]["legal_name"] == "FairOSS" and holder["stakeholder_type"] == "INSTITUTION"
    (cls,) = data["StockClasses.ocf.json"]["items"]
    assert cls["name"] == "Common Stock" and cls["class_type"] == "COMMON"
    # 5,000 shares are 0.5% of 1,000,000 fully diluted shares
    assert cls["initial_shares_authorized"] == "1000000"
    txs = {t["object_type"]: t for t in data["Transactions.ocf.json"]["items"]}
    issuance = txs["TX_STOCK_ISSUANCE"]
    assert issuance["quantity"] == "5000" and issuance["stakeholder_id"] == holder["id"]
    assert issuance["stock_class_id"] == cls["id"]
    assert txs["TX_VESTING_START"]["date"] == "2023-01-01"
    assert txs["TX_VESTING_EVENT"]["date"] == "2024-02-01"
    repurchase = txs["TX_STOCK_REPURCHASE"]
    assert repurchase["quantity"] == "500" and repurchase["price"] == {
        "amount": "20.00",
        "currency": "USD",
    }


def test_vesting_portions_add_up_to_the_whole(bundle):
    from fractions import Fraction

    data, _ = bundle
    (terms,) = data["VestingTerms.ocf.json"]["items"]
    conditions = {c["id"]: c for c in terms["vesting_conditions"]}
    total = Fraction(0)
    for c in conditions.values():
        if "portion" in c:
            share = Fraction(int(c["portion"]["numerator"]), int(c["portion"]["denominator"]))
            occurrences = c["trigger"].get("period", {}).get("occurrences", 1)
            total += share * occurrences
        for nxt in c["next_condition_ids"]:
            assert nxt in conditions
    assert total == 1
    assert conditions["cliff"]["trigger"]["period"]["length"] == 12
    assert conditions["monthly"]["trigger"]["period"]["occurrences"] == 36


def test_only_equity_has_an_export(company, owner, staff):
    agreement = AgreementFactory(company=company, actor=owner, staff=staff, kind="dividend")
    with pytest.raises(ValueError):
        ocf_export(agreement=agreement)
