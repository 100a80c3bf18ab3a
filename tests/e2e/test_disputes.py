"""The ombudsman office end to end, in real Chromium: file, hold, correct, redirect, resolve."""

import pytest
from django.core import mail
from django.db.models import Sum

from disputes.models import AuditEvent, Dispute, Hold
from disputes.selectors import recipient_is_held
from payouts.models import Posting
from payouts.selectors import account_balance
from projects.models import TableVersion
from tests.disputes.helpers import disputed_table
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_out(page):
    page.goto("/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def admin_action(page, name, fields):
    page.get_by_role("link", name=name, exact=True).click()
    for selector, value in fields.items():
        if selector.startswith("select:"):
            page.select_option(selector.removeprefix("select:"), value)
        else:
            page.fill(selector, value)
    page.locator("#action-form input[type=submit]").click()
    page.wait_for_url("**/change/")
    return page.locator("ul.messagelist").inner_text()


def ledger_balanced():
    per_currency = Posting.objects.values("currency").annotate(t=Sum("amount"))
    per_txn = Posting.objects.values("transaction_id", "currency").annotate(t=Sum("amount"))
    return all(r["t"] == 0 for r in per_currency) and all(r["t"] == 0 for r in per_txn)


def test_dispute_about_a_table_entry_from_filing_to_resolution(page, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    entry = disputed_table(ombudsmen=("olga",)).entry

    # carol files a dispute from the table version page, about bob's entry
    sign_in(page, "carol")
    page.goto("/projects/numpy/table/v1/")
    page.select_option("#dispute-about", f"table_entry:{entry.pk}")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/disputes/new/**")
    assert "user:bob" in page.locator("main").inner_text()
    page.select_option("#id_kind", "missing_credit")
    page.fill("#id_title", "Credit for the parser")
    page.fill("#id_description", "I wrote the parser (PR 12); bob's 30% is mine.")
    page.fill("#id_links", "https://github.com/numpy/numpy/pull/12")
    page.set_input_files(
        "#id_files",
        files=[{"name": "proof.txt", "mimeType": "text/plain", "buffer": b"git log: carol\n"}],
    )
    page.get_by_role("button", name="File the dispute").click()
    page.wait_for_url("**/disputes/*/")
    assert "was filed" in page.locator(".messages").inner_text()
    dispute = Dispute.objects.get()
    assert dispute.recipient == "user:bob" and dispute.evidence.count() == 2
    told = {m.to[0] for m in mail.outbox}
    assert {"alice@example.com", "bob@example.com", "carol@example.com"} <= told
    page.goto("/projects/numpy/")
    assert "A dispute is open on this table" in page.locator("#disputes-box").inner_text()
    sign_out(page)

    # the ombudsman works it in admin
    sign_in(page, "olga")
    page.goto("/admin/")
    page.goto("/admin/disputes/dispute/?status__exact=open")
    page.get_by_role("link", name="Credit for the parser").click()
    page.wait_for_url(lambda url: f"/admin/disputes/dispute/{dispute.pk}/change/" in url)

    msg = admin_action(
        page, "Hold money", {"#id_amount": "200.00", "#id_reason": "The 30% share is disputed"}
    )
    assert "$200.00 of user:bob is on hold" in msg
    hold = Hold.objects.get()
    # money rule 7: the next payout run skips bob (payouts call this selector)
    assert recipient_is_held(recipient="user:bob")
    assert account_balance(owner="user:bob", purpose="held", currency="usd") == 20_000

    msg = admin_action(
        page,
        "Correct the share table",
        {
            "#id_entries": "user:carol 30 parser\ngithub:octocat 10",
            "#id_reason": "PR 12 shows carol wrote the parser",
        },
    )
    assert "Version 2 of project:numpy is active" in msg
    active = TableVersion.objects.get(status="active")
    assert active.source == f"ombudsman:dispute-{dispute.pk}"
    assert list(active.entries.values_list("recipient", flat=True)) == [
        "user:carol",
        "github:octocat",
    ]

    page.locator("#ombudsman-actions").get_by_role("link", name="Redirect").click()
    page.fill("#id_to_recipient", "user:carol")
    page.fill("#id_reason", "The held share was earned by carol")
    page.locator("#action-form input[type=submit]").click()
    page.wait_for_url("**/change/")
    assert "Redirected $200.00 to user:carol" in page.locator("ul.messagelist").inner_text()
    hold.refresh_from_db()
    assert hold.status == Hold.Status.ENDED and not recipient_is_held(recipient="user:bob")
    assert account_balance(owner="user:carol", purpose="available", currency="usd") == 20_000
    assert account_balance(owner="user:bob", purpose="available", currency="usd") == 30_000
    assert account_balance(owner="user:bob", purpose="held", currency="usd") == 0
    assert ledger_balanced()

    mail.outbox.clear()
    msg = admin_action(
        page,
        "Resolve",
        {
            "select:#id_outcome": "upheld",
            "#id_resolution": "Upheld: carol wrote the parser; the table and the money follow.",
        },
    )
    assert "Resolved" in msg
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.RESOLVED and dispute.outcome == "upheld"
    resolved = {m.to[0]: m for m in mail.outbox if "resolved" in m.subject}
    assert set(resolved) == {"alice@example.com", "bob@example.com", "carol@example.com"}
    assert all("carol wrote the parser" in m.body for m in resolved.values())

    trail = page.locator("#auditevent_set-group, .inline-group").last.inner_text()
    actions = list(AuditEvent.objects.filter(dispute=dispute).values_list("action", flat=True))
    for step in ("dispute.file", "hold.place", "table.correct", "hold.redirect", "dispute.resolve"):
        assert step in actions
        assert step in trail
    sign_out(page)

    # carol sees the resolution and the trail on the dispute page
    sign_in(page, "carol")
    page.goto(f"/disputes/{dispute.pk}/")
    assert "Upheld" in page.locator("#resolution").inner_text()
    trail = page.locator("#audit-trail").inner_text()
    for step in ("dispute.file", "hold.place", "table.correct", "hold.redirect", "dispute.resolve"):
        assert step in trail
    assert ledger_balanced()
