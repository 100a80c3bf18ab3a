"""The Stripe webhook endpoint: signatures, storing once, processing in any order."""

from __future__ import annotations

import time

import pytest

from payouts.models import ConnectedAccount, StripeEvent
from tests.factories import ConnectedAccountFactory
from tests.payouts.payout_helpers import signed

pytest_plugins = ["tests.payouts.stripe_fixtures", "tests.payouts.payout_fixtures"]

URL = "/payouts/stripe/webhook/"
SECRET = "whsec_faiross_tests"


def post(client, body, header):
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header is not None else {}
    return client.post(URL, body, content_type="application/json", **extra)


def account_event(event_id, account_id, created, *, payouts_enabled, details=True):
    return {
        "id": event_id,
        "object": "event",
        "type": "account.updated",
        "account": account_id,
        "created": created,
        "livemode": False,
        "data": {
            "object": {
                "id": account_id,
                "object": "account",
                "details_submitted": details,
                "payouts_enabled": payouts_enabled,
                "capabilities": {"transfers": "active" if payouts_enabled else "inactive"},
                "requirements": {"currently_due": [], "disabled_reason": None},
            }
        },
    }


@pytest.fixture
def webhook_settings(settings, db, ledger_checked):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect_tests"
    return settings


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=1,v1=abc",
        "wrong-secret",
        "too-old",
        "too-new",
    ],
)
def test_bad_missing_or_old_signatures_are_400_and_store_nothing(client, webhook_settings, header):
    event = account_event("evt_1", "acct_1", int(time.time()), payouts_enabled=True)
    body, _good = signed(event, SECRET)
    if header == "wrong-secret":
        _, header = signed(event, "whsec_other")
    elif header == "too-old":
        body, header = signed(event, SECRET, timestamp=int(time.time()) - 3600)
    elif header == "too-new":
        # Correctly signed, but dated beyond the tolerance ahead: it would stay valid later.
        body, header = signed(event, SECRET, timestamp=int(time.time()) + 3600)
    response = post(client, body, header)
    assert response.status_code == 400
    assert "error" in response.json()
    assert not StripeEvent.objects.exists()


def test_connect_endpoint_secret_is_accepted_and_duplicates_stored_once(client, webhook_settings):
    account = ConnectedAccountFactory(status="onboarding", payouts_enabled=False)
    event = account_event(
        "evt_c1", account.stripe_account_id, int(time.time()), payouts_enabled=True
    )
    body, header = signed(event, "whsec_connect_tests")
    for _ in range(3):
        response = post(client, body, header)
        assert response.status_code == 200 and response.json()["status"] == "processed"
    record = StripeEvent.objects.get()
    assert record.deliveries == 3 and record.account == account.stripe_account_id
    account.refresh_from_db()
    assert account.status == ConnectedAccount.Status.ENABLED


def test_account_updates_apply_in_any_order(client, webhook_settings):
    account = ConnectedAccountFactory(status="onboarding", payouts_enabled=False)
    now = int(time.time())
    newer = account_event("evt_new", account.stripe_account_id, now, payouts_enabled=False)
    older = account_event("evt_old", account.stripe_account_id, now - 60, payouts_enabled=True)
    for event in (newer, older):  # the newer one arrives first
        assert post(client, *signed(event, SECRET)).status_code == 200
    account.refresh_from_db()
    assert account.status == ConnectedAccount.Status.RESTRICTED  # the newer state stands


def test_unknown_types_and_accounts_are_stored_and_ignored(client, webhook_settings):
    event = {"id": "evt_x", "type": "topup.succeeded", "created": int(time.time()), "data": {}}
    assert post(client, *signed(event, SECRET)).json()["status"] == "ignored"
    unknown = account_event("evt_y", "acct_nobody", int(time.time()), payouts_enabled=True)
    assert post(client, *signed(unknown, SECRET)).json()["status"] == "ignored"
    assert StripeEvent.objects.count() == 2


def replace_payment_handler(monkeypatch, handler):
    """Stand in for the handler the companies app registered at start-up."""
    from payouts.webhook_handlers import PAYMENT_EVENT_PREFIXES, stripe_event_handlers

    for prefix in PAYMENT_EVENT_PREFIXES:
        monkeypatch.setitem(stripe_event_handlers._items, prefix, handler)


def test_payment_events_go_to_the_handler_companies_registered(client, webhook_settings):
    from companies.services import stripe_payment_event_handle
    from payouts.webhook_handlers import PAYMENT_EVENT_PREFIXES, handler_for

    for prefix in PAYMENT_EVENT_PREFIXES:
        assert handler_for(prefix + "x") is stripe_payment_event_handle


def test_payment_events_go_to_the_companies_handler(client, webhook_settings, monkeypatch):
    seen = []
    replace_payment_handler(monkeypatch, lambda *, event: seen.append(event["id"]))
    for i, kind in enumerate(
        ["checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"]
    ):
        event = {"id": f"evt_p{i}", "type": kind, "created": int(time.time()), "data": {}}
        body, header = signed(event, SECRET)
        assert post(client, body, header).json()["status"] == "processed"
        assert post(client, body, header).status_code == 200  # replay: handled once
    assert seen == ["evt_p0", "evt_p1", "evt_p2"]


def test_payment_events_without_a_handler_fail_loudly_and_are_kept(
    client, webhook_settings, monkeypatch
):
    """With the companies handler gone (a broken deployment), a payment event is never
    "processed" or "ignored": it is stored, answered 500 and stays for "process again"."""
    from payouts.webhook_handlers import stripe_event_handlers

    monkeypatch.setattr(stripe_event_handlers, "_items", {})
    event = {"id": "evt_n", "type": "payment_intent.succeeded", "created": 1, "data": {}}
    body, header = signed(event, SECRET, timestamp=int(time.time()))
    assert post(client, body, header).status_code == 500
    stored = StripeEvent.objects.get()
    assert stored.payload["id"] == "evt_n" and stored.status == "failed"


def test_a_failing_handler_answers_500_and_the_next_delivery_processes_it(
    client, webhook_settings, monkeypatch
):
    calls = []

    def flaky(*, event):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")

    replace_payment_handler(monkeypatch, flaky)
    event = {"id": "evt_f", "type": "charge.succeeded", "created": 1, "data": {}}
    body, header = signed(event, SECRET)
    assert post(client, body, header).status_code == 500
    assert StripeEvent.objects.get().status == "failed"
    assert post(client, body, header).status_code == 200
    assert StripeEvent.objects.get().status == "processed" and len(calls) == 2


def test_get_is_not_allowed(client, webhook_settings):
    assert client.get(URL).status_code == 405


def test_events_from_the_local_server_are_accepted(
    live_server, stripe_settings, settings, ledger_checked
):
    """End to end: the local server signs and delivers account.updated to the endpoint."""
    from local_stripe import LocalStripeServer, ServerConfig
    from tests.payouts.payout_helpers import onboarded
    from tests.payouts.stripe_fixtures import Control

    server = LocalStripeServer(
        ServerConfig(
            port=0,
            webhook_url=live_server.url + URL,
            webhook_secret=SECRET,
            webhook_retry_base=0.05,
        )
    ).start()
    try:
        settings.STRIPE_API_BASE = server.url
        control = Control(server.url)
        account = onboarded("alice", control, outcome="incomplete")
        assert account.status == "onboarding"
        control.onboard(account.stripe_account_id, "complete")
        assert control.wait_webhooks(10)
        account.refresh_from_db()
        assert account.status == ConnectedAccount.Status.ENABLED
        record = StripeEvent.objects.get(type="account.updated")
        assert record.account == account.stripe_account_id
        assert all(a["status"] == 200 for a in control.call("GET", "/_test/webhooks")["data"])
    finally:
        server.stop()


def test_an_event_older_than_the_last_fetch_changes_nothing(client, webhook_settings):
    from django.utils import timezone

    from payouts.connect import accounts

    account = ConnectedAccountFactory(status="onboarding", payouts_enabled=False)
    accounts.connected_account_apply(
        account=account,
        data=account_event("x", account.stripe_account_id, 0, payouts_enabled=True)["data"][
            "object"
        ],
    )
    stale = account_event(
        "evt_stale",
        account.stripe_account_id,
        int(timezone.now().timestamp()) - 120,
        payouts_enabled=False,
        details=False,
    )
    assert post(client, *signed(stale, SECRET)).status_code == 200
    account.refresh_from_db()
    assert account.status == ConnectedAccount.Status.ENABLED
