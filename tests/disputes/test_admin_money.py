"""The ombudsman's admin forms take money in currency units, read in the ombudsman's
language and the dispute's (or hold's) currency, refuse an ambiguous amount with the likely
reading, and say the amount they understood; shares are percent (issue 11)."""

from __future__ import annotations

import html

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from disputes.models import AuditEvent, Dispute, Hold
from payouts.selectors import account_balance
from projects.models import TableVersion
from tests.factories import DisputeFactory, HoldFactory, credit
from tests.faiross.test_no_units_in_ui import read_text, units_said

pytestmark = pytest.mark.django_db


@pytest.fixture
def ombudsman(client, world):
    client.force_login(world.dana)
    return client


@pytest.fixture
def german(ombudsman):
    ombudsman.cookies["django_language"] = "de"
    return ombudsman


def act(dispute, action, hold=None):
    if hold is not None:
        return reverse("admin:disputes_dispute_hold_act", args=[dispute.pk, hold.pk, action])
    return reverse("admin:disputes_dispute_act", args=[dispute.pk, action])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def page_text(response) -> str:
    return html.unescape(read_text(response.content.decode()))


def test_stake_is_typed_in_currency_units_and_confirmed_as_money(ombudsman, dispute):
    r = ombudsman.post(
        act(dispute, "stake"), {"amount": "2,000.50", "currency": "eur", "reason": "More."}
    )
    assert r.status_code == 302
    assert said(r)[-1:] == ["Money at stake set: €2,000.50."]
    dispute.refresh_from_db()
    assert (dispute.amount_at_stake, dispute.currency) == (200_050, "eur")


def test_an_ambiguous_stake_is_refused_with_the_likely_reading(ombudsman, dispute):
    r = ombudsman.post(
        act(dispute, "stake"), {"amount": "2000,50", "currency": "usd", "reason": "More."}
    )
    assert r.status_code == 400
    assert "Did you mean 2,000.50?" in page_text(r)
    dispute.refresh_from_db()
    assert dispute.amount_at_stake == 20_000


def test_german_ombudsman_types_and_reads_german_money(german, dispute):
    form = german.get(act(dispute, "stake"))
    assert 'value="200,00"' in form.content.decode()  # the stake, as they type it
    assert "Typed as in German" in page_text(form)
    r = german.post(
        act(dispute, "stake"), {"amount": "2.000,50", "currency": "usd", "reason": "Mehr."}
    )
    assert said(r)[-1:] == ["Money at stake set: 2.000,50\xa0$."]
    r = german.post(
        act(dispute, "stake"), {"amount": "2000.50", "currency": "usd", "reason": "Mehr."}
    )
    assert r.status_code == 400 and "Did you mean 2.000,50?" in page_text(r)
    dispute.refresh_from_db()
    assert dispute.amount_at_stake == 200_050


def test_hold_in_currency_units_a_zero_freezes_and_refusals_speak_money(ombudsman, world, dispute):
    form = ombudsman.get(act(dispute, "hold"))
    assert 'value="200.00"' in form.content.decode()
    r = ombudsman.post(
        act(dispute, "hold"),
        {"recipient": "user:bob", "amount": "200.01", "currency": "usd", "reason": "r"},
    )
    assert r.status_code == 400
    assert Hold.objects.count() == 0
    assert "$200.00" in page_text(r)  # the most the stake allows, as money
    r = ombudsman.post(
        act(dispute, "hold"),
        {"recipient": "user:bob", "amount": "150", "currency": "usd", "reason": "r"},
    )
    assert said(r)[-1:] == ["$150.00 of user:bob is on hold."]
    assert account_balance(owner="user:bob", purpose="held", currency="usd") == 15_000
    r = ombudsman.post(
        act(dispute, "hold"),
        {"recipient": "user:bob", "amount": "0,00", "currency": "usd", "reason": "freeze"},
    )
    assert said(r)[-1:] == ["Payouts to user:bob are frozen."]
    assert Hold.objects.filter(amount=0).count() == 1


def test_redirect_is_read_in_the_holds_currency(german, world):
    credit("user:bob", 30_000, currency="eur")
    euro = DisputeFactory(
        filer=world.carol,
        target=f"table_entry:{world.entry.pk}",
        amount_at_stake=30_000,
        currency="eur",
    )
    hold = HoldFactory(
        dispute=euro, recipient="user:bob", amount=30_000, currency="eur", fund=False
    )
    form = page_text(german.get(act(euro, "redirect", hold)))
    assert "In EUR." in form
    r = german.post(
        act(euro, "redirect", hold),
        {"to_recipient": "user:carol", "amount": "1.000", "reason": "r"},
    )
    assert r.status_code == 400
    assert "300,00\xa0€" in page_text(r)  # all the hold holds, in the hold's money
    r = german.post(
        act(euro, "redirect", hold),
        {"to_recipient": "user:carol", "amount": "120,5", "reason": "r"},
    )
    assert said(r)[-1:] == ["Redirected 120,50\xa0€ to user:carol."]
    assert account_balance(owner="user:carol", purpose="available", currency="eur") == 12_050


def test_table_correction_takes_percent_in_the_ombudsmans_language(german, world, dispute):
    form = german.get(act(dispute, "correct"))
    assert "user:bob 30\n" in form.content.decode()  # the active table, in percent
    r = german.post(
        act(dispute, "correct"),
        {
            "owner_key": "project:numpy",
            "entries": "user:carol 30 parser\ngithub:octocat 12,5",
            "reason": "PR 12",
        },
    )
    assert r.status_code == 302
    active = TableVersion.objects.get(status="active")
    assert list(active.entries.values_list("recipient", "millibips")) == [
        ("user:carol", 3_000_000),
        ("github:octocat", 1_250_000),
    ]
    r = german.post(
        act(dispute, "correct"),
        {"owner_key": "project:numpy", "entries": "user:carol 12.5", "reason": "PR 12"},
    )
    assert r.status_code == 400
    assert "line 1" in page_text(r) and "Did you mean 12,5\xa0%?" in page_text(r)


def test_case_page_and_trail_show_money_and_percent(ombudsman, world, dispute):
    ombudsman.post(
        act(dispute, "hold"),
        {"recipient": "user:bob", "amount": "150", "currency": "usd", "reason": "r"},
    )
    ombudsman.post(
        act(dispute, "correct"),
        {"owner_key": "project:numpy", "entries": "user:carol 12.5", "reason": "PR 12"},
    )
    assert AuditEvent.objects.filter(action="hold.place", data__amount=15_000).exists()
    r = ombudsman.get(reverse("admin:disputes_dispute_change", args=[dispute.pk]))
    text = page_text(r)
    assert "amount: $150.00" in text and "user:carol 12.5%" in text and "reserve: 87.5%" in text
    assert "$200.00" in text  # the money at stake
    assert "15000" not in text and "1250000" not in text
    assert units_said(r.content.decode()) == []


def test_service_refusals_on_the_forms_speak_money(ombudsman, world, dispute):
    # bob has $500.00 available; the stake allows more than that.
    ombudsman.post(act(dispute, "stake"), {"amount": "900", "currency": "usd", "reason": "More."})
    r = ombudsman.post(
        act(dispute, "hold"),
        {"recipient": "user:bob", "amount": "600", "currency": "usd", "reason": "r"},
    )
    assert r.status_code == 400
    assert "user:bob has only $500.00 in available" in page_text(r)
    assert Dispute.objects.get(pk=dispute.pk).amount_at_stake == 90_000
    assert units_said(r.content.decode()) == []
