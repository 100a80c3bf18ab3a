"""The local Stripe test server, driven through the official ``stripe`` library.

Run without Django: ``.venv/bin/python -m pytest -p no:django --noconftest
tests/local_stripe/test_server.py -q`` (the suite's conftest imports Django models).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import stripe

from local_stripe import DEFAULT_WEBHOOK_SECRET, LocalStripeServer
from local_stripe.params import decode_form

# The helpers module is also loaded as a plugin (below); let pytest rewrite its asserts.
pytest.register_assert_rewrite("tests.payouts.stripe_fixtures")
from tests.payouts.stripe_fixtures import (  # noqa: E402
    TEST_KEY,
    Control,
    WebhookReceiver,
    open_page,
    start_server,
)

# Fixtures: local_stripe (one server per module), stripe_env (reset + global stripe config),
# webhook_receiver.
pytest_plugins = ["tests.payouts.stripe_fixtures"]

RETURN_URL = "https://faiross.test/payouts/return/"
REFRESH_URL = "https://faiross.test/payouts/refresh/"


def new_account(**extra: Any) -> stripe.Account:
    """An Express account that asked for the transfers capability."""
    return stripe.Account.create(
        type="express",
        country="US",
        email="ada@example.com",
        capabilities={"transfers": {"requested": True}},
        metadata={"faiross_user": "ada"},
        **extra,
    )


def onboarded_account(control: Control) -> stripe.Account:
    """An Express account that completed onboarding."""
    account = new_account()
    control.onboard(account.id)
    return stripe.Account.retrieve(account.id)


def transfer(account_id: str, amount: int = 1_000, **extra: Any) -> stripe.Transfer:
    """A USD transfer to ``account_id``."""
    return stripe.Transfer.create(amount=amount, currency="usd", destination=account_id, **extra)


def platform_usd() -> int:
    """The platform's available USD balance."""
    return next(b.amount for b in stripe.Balance.retrieve().available if b.currency == "usd")


def checkout_session(
    currency: str, unit_amount: int, product: str, quantity: int = 1, **extra: Any
) -> stripe.checkout.Session:
    """A payment-mode Checkout Session for ``quantity`` of one ad-hoc product."""
    return stripe.checkout.Session.create(
        mode="payment",
        line_items=[
            {
                "price_data": {
                    "currency": currency,
                    "unit_amount": unit_amount,
                    "product_data": {"name": product},
                },
                "quantity": quantity,
            }
        ],
        **extra,
    )


def transfer_count(control: Control) -> int:
    """How many transfers the server really made (not what any client believes)."""
    return len(stripe.Transfer.list(limit=100).data)


# Forms, pages and authentication


def test_decode_form_handles_nesting_arrays_and_metadata() -> None:
    decoded = decode_form(
        "a[b][c]=1&items[0][q]=2&items[1][q]=3&tags[]=x&tags[]=y&metadata[7]=seven&empty="
    )
    assert decoded == {
        "a": {"b": {"c": "1"}},
        "items": [{"q": "2"}, {"q": "3"}],
        "tags": ["x", "y"],
        "metadata": {"7": "seven"},
        "empty": "",
    }


def test_index_page_is_marked_test_mode(stripe_env: Control) -> None:
    status, body, _ = open_page(stripe_env.base_url + "/")
    assert status == 200
    assert "FairOSS local Stripe test server — TEST MODE" in body


def test_keys_are_checked_and_live_keys_refused(stripe_env: Control) -> None:
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(stripe_env.base_url + "/v1/balance")  # no Authorization header
    assert missing.value.code == 401
    error = json.loads(missing.value.read())["error"]
    assert error["type"] == "invalid_request_error" and "API key" in error["message"]
    assert set(error) >= {"type", "code", "message", "param"}
    with pytest.raises(stripe.AuthenticationError, match="TEST MODE"):
        stripe.Balance.retrieve(api_key="sk_live_abcdefghijklmnop")
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
        stripe.Balance.retrieve(api_key="pk_test_abcdefghijklmnop")
    balance = stripe.Balance.retrieve()
    assert balance.livemode is False


def test_global_api_base_and_stripe_client_both_work(
    stripe_env: Control, local_stripe: LocalStripeServer
) -> None:
    account = new_account()
    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": local_stripe.url})
    assert client.v1.accounts.retrieve(account.id).email == "ada@example.com"
    assert [a.id for a in client.v1.accounts.list().data] == [account.id]


# Connect: accounts, onboarding, transfers, reversals, payouts


def test_connect_flow_from_onboarding_to_payout(stripe_env: Control) -> None:
    account = new_account()
    assert account.id.startswith("acct_")
    assert account.capabilities.transfers == "inactive"
    assert not account.payouts_enabled and not account.details_submitted
    assert account.metadata.faiross_user == "ada" and account.livemode is False

    with pytest.raises(stripe.InvalidRequestError) as refused:
        transfer(account.id)
    assert refused.value.code == "insufficient_capabilities_for_transfer"

    link = stripe.AccountLink.create(
        account=account.id,
        refresh_url=REFRESH_URL,
        return_url=RETURN_URL,
        type="account_onboarding",
    )
    assert link.expires_at - link.created == 300
    status, page, _ = open_page(link.url)
    assert status == 200 and "Complete onboarding (test mode)" in page
    status, _, location = open_page(link.url, {"action": "complete"})
    assert (status, location) == (303, RETURN_URL)

    account = stripe.Account.retrieve(account.id)
    assert account.details_submitted and account.payouts_enabled and account.charges_enabled
    assert account.capabilities.transfers == "active"
    assert account.requirements.disabled_reason is None

    first = transfer(account.id, 5_000, transfer_group="run_1", metadata={"payout": "1"})
    transfer(account.id, 700, transfer_group="run_2")
    assert first.id.startswith("tr_") and first.metadata.payout == "1"
    in_run_1 = stripe.Transfer.list(transfer_group="run_1")
    assert [t.id for t in in_run_1.data] == [first.id]
    assert in_run_1.object == "list" and in_run_1.url == "/v1/transfers"
    assert len(stripe.Transfer.list(destination=account.id).data) == 2

    partial = stripe.Transfer.create_reversal(first.id, amount=1_000)
    assert partial.id.startswith("trr_") and partial.amount == 1_000
    rest = stripe.Transfer.create_reversal(first.id)
    assert rest.amount == 4_000
    reversed_ = stripe.Transfer.retrieve(first.id)
    assert reversed_.reversed and reversed_.amount_reversed == 5_000
    assert len(stripe.Transfer.list_reversals(first.id).data) == 2
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Transfer.create_reversal(first.id)

    balance = stripe.Balance.retrieve(stripe_account=account.id)
    assert balance.available[0].amount == 700
    payout = stripe.Payout.create(amount=600, currency="usd", stripe_account=account.id)
    assert payout.id.startswith("po_") and payout.status == "pending"
    assert stripe.Payout.retrieve(payout.id, stripe_account=account.id).status == "paid"
    assert [p.id for p in stripe.Payout.list(stripe_account=account.id).data] == [payout.id]
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        stripe.Payout.create(amount=101, currency="usd", stripe_account=account.id)
    assert too_much.value.code == "balance_insufficient"
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Payout.retrieve(payout.id)  # the platform does not own it


def test_onboarding_link_expires_and_is_single_use(stripe_env: Control) -> None:
    account = new_account()

    def link() -> str:
        return stripe.AccountLink.create(
            account=account.id,
            refresh_url=REFRESH_URL,
            return_url=RETURN_URL,
            type="account_onboarding",
        ).url

    expired = link()
    stripe_env.advance(301)
    assert open_page(expired)[::2] == (303, REFRESH_URL)

    used = link()
    assert open_page(used, {"action": "incomplete"})[::2] == (303, RETURN_URL)
    assert open_page(used)[::2] == (303, REFRESH_URL)
    assert not stripe.Account.retrieve(account.id).details_submitted

    open_page(link(), {"action": "restrict"})
    restricted = stripe.Account.retrieve(account.id)
    assert restricted.details_submitted and not restricted.payouts_enabled
    assert restricted.requirements.disabled_reason == "requirements.past_due"


def test_accounts_update_list_delete_and_pagination(stripe_env: Control) -> None:
    accounts = [new_account() for _ in range(5)]
    updated = stripe.Account.modify(accounts[0].id, metadata={"faiross_user": "", "k": "v"})
    assert updated.metadata.to_dict() == {"k": "v"}
    page = stripe.Account.list(limit=2)
    assert [a.id for a in page.data] == [accounts[4].id, accounts[3].id] and page.has_more
    page = stripe.Account.list(limit=2, starting_after=page.data[-1].id)
    assert [a.id for a in page.data] == [accounts[2].id, accounts[1].id] and page.has_more
    seen = [a.id for a in stripe.Account.list(limit=2).auto_paging_iter()]
    assert seen == [a.id for a in reversed(accounts)]
    assert stripe.Account.delete(accounts[0].id).deleted
    with pytest.raises(stripe.InvalidRequestError) as gone:
        stripe.Account.retrieve(accounts[0].id)
    assert gone.value.http_status == 404 and gone.value.code == "resource_missing"


def test_transfer_needs_platform_balance(stripe_env: Control) -> None:
    account = onboarded_account(stripe_env)
    with pytest.raises(stripe.InvalidRequestError) as poor:
        stripe.Transfer.create(amount=1_000, currency="chf", destination=account.id)
    assert poor.value.code == "balance_insufficient"
    stripe.Topup.create(amount=1_000, currency="chf")
    assert stripe.Transfer.create(amount=1_000, currency="chf", destination=account.id).amount


def test_bad_requests_answer_stripe_errors(stripe_env: Control) -> None:
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe.Transfer.create(amount=1, currency="usd", destination="acct_x", colour="red")
    assert unknown.value.code == "parameter_unknown" and unknown.value.param == "colour"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Transfer.create(currency="usd", destination="acct_x")
    assert missing.value.param == "amount" and missing.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as negative:
        stripe.Transfer.create(amount=-5, currency="usd", destination="acct_x")
    assert negative.value.code == "parameter_invalid_integer"
    with pytest.raises(stripe.PermissionError):
        stripe.Balance.retrieve(stripe_account="acct_doesnotexist")
    body = stripe_env.call("GET", "/_test/requests")["data"][-1]
    assert body["status"] == 403


# Idempotency


def test_idempotent_replay_and_parameter_mismatch(stripe_env: Control) -> None:
    account = onboarded_account(stripe_env)
    first = transfer(account.id, 2_500, idempotency_key="payout-1")
    again = transfer(account.id, 2_500, idempotency_key="payout-1")
    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError) as mismatch:
        transfer(account.id, 2_600, idempotency_key="payout-1")
    assert mismatch.value.http_status == 400
    assert mismatch.value.json_body["error"]["type"] == "idempotency_error"
    assert transfer_count(stripe_env) == 1


def test_idempotency_keys_expire_after_24_hours(stripe_env: Control) -> None:
    account = onboarded_account(stripe_env)
    first = transfer(account.id, idempotency_key="payout-2")
    stripe_env.advance(23 * 3600)
    assert transfer(account.id, idempotency_key="payout-2").id == first.id
    stripe_env.advance(90_000)
    second = transfer(account.id, idempotency_key="payout-2")
    assert second.id != first.id
    assert transfer_count(stripe_env) == 2


def test_card_declines_are_replayed_but_validation_errors_are_not(stripe_env: Control) -> None:
    intent = stripe.PaymentIntent.create(amount=1_000, currency="usd")
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            stripe.PaymentIntent.confirm(
                intent.id, payment_method="pm_card_chargeDeclined", idempotency_key="confirm-1"
            )
    replays = [
        r["replayed"] for r in stripe_env.requests("POST", f"/v1/payment_intents/{intent.id}")
    ]
    assert replays == [False, True]
    assert len(stripe.Charge.list(payment_intent=intent.id).data) == 1


# Faults


def test_500_fault_without_and_with_library_retries(stripe_env: Control) -> None:
    account = onboarded_account(stripe_env)
    stripe_env.fault("/v1/transfers", "500", method="POST", count=1)
    with pytest.raises(stripe.APIError) as failed:
        transfer(account.id, idempotency_key="t-500")
    assert failed.value.http_status == 500
    assert transfer_count(stripe_env) == 0
    assert transfer(account.id, idempotency_key="t-500").amount == 1_000

    stripe_env.fault("/v1/transfers", "500", method="POST", count=2)
    stripe.max_network_retries = 2
    done = transfer(account.id, idempotency_key="t-500-retried")
    attempts = [
        r
        for r in stripe_env.requests("POST", "/v1/transfers")
        if r["idempotency_key"] == "t-500-retried"
    ]
    assert [r["status"] for r in attempts] == [500, 500, 200]
    assert done.id and transfer_count(stripe_env) == 2


def test_429_fault_is_a_rate_limit_error_the_library_only_retries_when_told(
    stripe_env: Control,
) -> None:
    account = onboarded_account(stripe_env)
    stripe.max_network_retries = 2
    stripe_env.fault("/v1/transfers", "429", method="POST")
    with pytest.raises(stripe.RateLimitError) as limited:
        transfer(account.id, idempotency_key="t-429")
    assert limited.value.http_status == 429
    assert limited.value.json_body["error"]["code"] == "rate_limit"
    assert len(stripe_env.requests("POST", "/v1/transfers")) == 1
    assert transfer_count(stripe_env) == 0

    stripe_env.fault("/v1/transfers", "429", method="POST", should_retry=True)
    assert transfer(account.id, idempotency_key="t-429").id
    assert [r["status"] for r in stripe_env.requests("POST", "/v1/transfers")] == [429, 429, 200]


def test_rate_limit_setting_answers_429(stripe_env: Control) -> None:
    stripe_env.settings(rate_limit=3)
    outcomes = []
    for _ in range(6):
        try:
            stripe.Balance.retrieve()
            outcomes.append("ok")
        except stripe.RateLimitError:
            outcomes.append("429")
    assert outcomes[:3] == ["ok"] * 3 and "429" in outcomes


def test_drop_after_commit_then_retry_with_same_key_returns_the_stored_transfer(
    stripe_env: Control,
) -> None:
    account = onboarded_account(stripe_env)
    stripe_env.fault("/v1/transfers", "drop_after_commit", method="POST")
    with pytest.raises(stripe.APIConnectionError):
        transfer(account.id, 3_000, idempotency_key="payout-9", transfer_group="run_9")
    made = stripe.Transfer.list(transfer_group="run_9").data
    assert len(made) == 1  # Stripe did the work even though the client saw an error

    retried = transfer(account.id, 3_000, idempotency_key="payout-9", transfer_group="run_9")
    assert retried.id == made[0].id
    assert retried.last_response.headers["Idempotent-Replayed"] == "true"
    assert transfer_count(stripe_env) == 1

    stripe.max_network_retries = 1
    stripe_env.fault("/v1/transfers", "drop_after_commit", method="POST")
    by_library = transfer(account.id, 4_000, idempotency_key="payout-10")
    assert by_library.last_response.headers["Idempotent-Replayed"] == "true"
    assert transfer_count(stripe_env) == 2


def test_delay_timeout_and_concurrent_use_of_a_key(
    stripe_env: Control, local_stripe: LocalStripeServer
) -> None:
    account = onboarded_account(stripe_env)
    impatient = stripe.StripeClient(
        TEST_KEY,
        base_addresses={"api": local_stripe.url},
        http_client=stripe.RequestsClient(timeout=0.3),
        max_network_retries=0,
    )
    stripe_env.fault("/v1/transfers", "delay", method="POST", delay_seconds=1.0)
    params = {"amount": 800, "currency": "usd", "destination": account.id}
    options = {"idempotency_key": "slow-1"}
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.transfers.create(params=params, options=options)
    with pytest.raises(stripe.APIError) as busy:
        transfer(account.id, 800, idempotency_key="slow-1")  # the first is still running
    assert busy.value.http_status == 409
    replay = None
    deadline = time.monotonic() + 10
    while replay is None and time.monotonic() < deadline:  # until the slow request finished
        try:
            replay = transfer(account.id, 800, idempotency_key="slow-1")
        except stripe.APIError as exc:
            assert exc.http_status == 409
            time.sleep(0.1)
    assert replay is not None and replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert transfer_count(stripe_env) == 1


def test_concurrent_requests_keep_balances_exact(stripe_env: Control) -> None:
    account = onboarded_account(stripe_env)
    usd_before = platform_usd()

    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            transfer(account.id, 10, idempotency_key=f"c-{i % 10}")
        except stripe.APIError as exc:
            if exc.http_status != 409:  # 409: the same key is in flight on another thread
                errors.append(exc)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i in range(10):  # whatever lost a race to a 409 is settled by one more try
        send(i)
    assert transfer_count(stripe_env) == 10
    usd_after = platform_usd()
    connected = stripe.Balance.retrieve(stripe_account=account.id).available[0].amount
    assert usd_before - usd_after == connected == 10 * transfer_count(stripe_env)


# Webhooks


def test_webhooks_are_signed_like_stripe_and_split_platform_from_connect(
    stripe_env: Control, webhook_receiver: WebhookReceiver
) -> None:
    platform = stripe.WebhookEndpoint.create(url=webhook_receiver.url, enabled_events=["*"])
    connect = stripe.WebhookEndpoint.create(
        url=webhook_receiver.url, enabled_events=["account.updated"], connect=True
    )
    assert platform.secret.startswith("whsec_") and platform.secret != connect.secret
    account = new_account()
    stripe_env.onboard(account.id)
    made = transfer(account.id)

    deliveries = webhook_receiver.wait_for(lambda d: len(d) >= 2)
    by_type = {d.event["type"]: d for d in deliveries}
    created = by_type["transfer.created"]
    event = stripe.Webhook.construct_event(created.body, created.signature, platform.secret)
    assert event.data.object.id == made.id and "account" not in event
    updated = by_type["account.updated"]
    event = stripe.Webhook.construct_event(updated.body, updated.signature, connect.secret)
    assert event.account == account.id
    assert event.data.object.payouts_enabled is True
    assert event.data.previous_attributes.payouts_enabled is False
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(created.body, created.signature, connect.secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(created.body + b" ", created.signature, platform.secret)
    assert stripe.Event.retrieve(event.id, stripe_account=account.id).type == "account.updated"
    assert [e.type for e in stripe.Event.list(type="transfer.*").data] == ["transfer.created"]


def test_failed_deliveries_are_retried_and_events_can_be_redelivered(
    stripe_env: Control, webhook_receiver: WebhookReceiver
) -> None:
    endpoint = stripe.WebhookEndpoint.create(
        url=webhook_receiver.url, enabled_events=["customer.created"]
    )
    webhook_receiver.fail_next = 2
    customer = stripe.Customer.create(email="finance@acme.test")
    webhook_receiver.wait_for(lambda d: len(d) == 1)
    assert stripe_env.wait_webhooks()  # the server logs an attempt after the receiver answered
    attempts = stripe_env.call("GET", "/_test/webhooks")["data"]
    assert [(a["attempt"], a["ok"]) for a in attempts] == [(1, False), (2, False), (3, True)]

    event = stripe.Event.list(type="customer.created").data[0]
    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": stripe_env.base_url})
    answer = client.raw_request("post", "/v1/test_helpers/webhooks/redeliver", event=event.id)
    assert json.loads(answer.body)["deliveries"] == 1
    twice = webhook_receiver.wait_for(lambda d: len(d) == 2)
    assert twice[0].event["id"] == twice[1].event["id"] == event.id
    for delivery in twice:
        verified = stripe.Webhook.construct_event(
            delivery.body, delivery.signature, endpoint.secret
        )
        assert verified.data.object.id == customer.id


def test_command_line_webhook_url_gets_platform_and_connect_events(
    webhook_receiver: WebhookReceiver,
) -> None:
    server = start_server(webhook_url=webhook_receiver.url)
    try:
        client = stripe.StripeClient(TEST_KEY, base_addresses={"api": server.url})
        account = client.v1.accounts.create(
            params={"type": "express", "capabilities": {"transfers": {"requested": True}}}
        )
        Control(server.url).onboard(account.id)
        client.v1.transfers.create(
            params={"amount": 100, "currency": "usd", "destination": account.id}
        )
        deliveries = webhook_receiver.wait_for(lambda d: len(d) == 2)
        for delivery in deliveries:
            stripe.Webhook.construct_event(
                delivery.body, delivery.signature, DEFAULT_WEBHOOK_SECRET
            )
        assert sorted(webhook_receiver.types()) == ["account.updated", "transfer.created"]
    finally:
        server.stop()


# Money in: PaymentIntents and Checkout


def test_payment_intent_confirm_success_and_decline(stripe_env: Control) -> None:
    customer = stripe.Customer.create(email="finance@acme.test", metadata={"company": "acme"})
    intent = stripe.PaymentIntent.create(
        amount=200_000,
        currency="usd",
        customer=customer.id,
        payment_method_types=["card"],
        metadata={"invoice": "inv-1"},
    )
    assert intent.status == "requires_payment_method" and intent.client_secret
    before = platform_usd()
    paid = stripe.PaymentIntent.confirm(
        intent.id, payment_method="pm_card_visa", expand=["latest_charge"]
    )
    assert paid.status == "succeeded" and paid.amount_received == 200_000
    assert paid.latest_charge.paid and paid.latest_charge.metadata.invoice == "inv-1"
    assert platform_usd() - before == 200_000
    types = [e.type for e in stripe.Event.list().data]
    assert "payment_intent.succeeded" in types and "charge.succeeded" in types

    declined = stripe.PaymentIntent.create(amount=5_000, currency="usd")
    with pytest.raises(stripe.CardError) as card:
        stripe.PaymentIntent.confirm(declined.id, payment_method="pm_card_chargeDeclined")
    assert card.value.http_status == 402 and card.value.code == "card_declined"
    assert card.value.error.decline_code == "generic_decline"
    assert stripe.PaymentIntent.retrieve(declined.id).status == "requires_payment_method"
    assert platform_usd() - before == 200_000
    with pytest.raises(stripe.InvalidRequestError) as done:
        stripe.PaymentIntent.confirm(intent.id, payment_method="pm_card_visa")
    assert done.value.code == "payment_intent_unexpected_state"


def test_checkout_session_is_paid_on_the_local_page(
    stripe_env: Control, webhook_receiver: WebhookReceiver
) -> None:
    endpoint = stripe.WebhookEndpoint.create(
        url=webhook_receiver.url, enabled_events=["checkout.session.completed"]
    )
    session = checkout_session(
        "usd",
        200_000,
        "Open Source Pledge 2026",
        quantity=3,
        success_url="https://faiross.test/paid/?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://faiross.test/cancelled/",
        client_reference_id="invoice-42",
        metadata={"invoice": "42"},
        payment_intent_data={"metadata": {"invoice": "42"}},
    )
    assert session.id.startswith("cs_test_") and session.amount_total == 600_000
    assert session.status == "open" and session.payment_status == "unpaid"
    status, page, _ = open_page(session.url)
    assert status == 200 and "Pay (test mode)" in page and "Open Source Pledge 2026" in page

    status, _, location = open_page(session.url, {"action": "pay"})
    assert (status, location) == (303, f"https://faiross.test/paid/?session={session.id}")
    paid = stripe.checkout.Session.retrieve(session.id, expand=["payment_intent", "line_items"])
    assert paid.status == "complete" and paid.payment_status == "paid"
    assert paid.payment_intent.status == "succeeded"
    assert paid.payment_intent.metadata.invoice == "42"
    assert paid.line_items.data[0].quantity == 3
    assert open_page(session.url)[0] == 410  # paid sessions cannot be paid again

    delivery = webhook_receiver.wait_for(lambda d: len(d) == 1)[0]
    event = stripe.Webhook.construct_event(delivery.body, delivery.signature, endpoint.secret)
    assert event.type == "checkout.session.completed"
    assert event.data.object.client_reference_id == "invoice-42"


def test_checkout_session_expires_with_the_clock(stripe_env: Control) -> None:
    session = checkout_session("eur", 500, "Dividend", success_url="https://faiross.test/ok/")
    stripe_env.advance(24 * 3600)
    assert stripe.checkout.Session.retrieve(session.id).status == "expired"
    assert open_page(f"{stripe_env.base_url}/pay/{session.id}")[0] == 410


def test_manual_payouts_can_fail_and_return_the_money(stripe_env: Control) -> None:
    account = onboarded_account(stripe_env)
    transfer(account.id, 900)
    stripe_env.settings(payout_mode="manual")
    payout = stripe.Payout.create(amount=900, currency="usd", stripe_account=account.id)
    assert stripe.Balance.retrieve(stripe_account=account.id).available[0].amount == 0
    failed = stripe_env.call(
        "POST", f"/_test/payouts/{payout.id}/fail", {"failure_code": "account_closed"}
    )
    assert failed["status"] == "failed" and failed["failure_code"] == "account_closed"
    assert stripe.Balance.retrieve(stripe_account=account.id).available[0].amount == 900
    events = stripe.Event.list(stripe_account=account.id, type="payout.failed").data
    assert events and events[0].account == account.id


# Persistence and the command line


def test_data_file_keeps_state_across_restarts(tmp_path: Path) -> None:
    data_file = tmp_path / "stripe.json"
    first = start_server(data_file=data_file)
    client = stripe.StripeClient(TEST_KEY, base_addresses={"api": first.url})
    account = client.v1.accounts.create(
        params={"type": "express"}, options={"idempotency_key": "acct-1"}
    )
    Control(first.url).advance(1000)
    first.stop()

    second = start_server(data_file=data_file)
    try:
        client = stripe.StripeClient(TEST_KEY, base_addresses={"api": second.url})
        assert client.v1.accounts.retrieve(account.id).type == "express"
        again = client.v1.accounts.create(
            params={"type": "express"}, options={"idempotency_key": "acct-1"}
        )
        assert again.id == account.id
        assert Control(second.url).call("GET", "/_test/clock")["offset_seconds"] == 1000
    finally:
        second.stop()


def test_command_line_entry_point(tmp_path: Path) -> None:
    data_file = tmp_path / "state.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_stripe",
            "--port",
            "0",
            "--data-file",
            str(data_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert process.stdout is not None
        assert "TEST MODE" in process.stdout.readline()
        base = process.stdout.readline().split()[2]
        client = stripe.StripeClient(TEST_KEY, base_addresses={"api": base})
        client.v1.customers.create(params={"email": "x@example.com"})
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert "x@example.com" in data_file.read_text()
