"""The yearly statement PDF: rendered by WeasyPrint, with the person's name as written, every
line and the totals per currency formatted as money."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import UserFactory
from tests.payouts.payout_helpers import credit
from tests.pdf_helpers import check_pdf, pdf_text

pytest_plugins = ["tests.payouts.payout_fixtures"]

pytestmark = pytest.mark.django_db


def test_statement_pdf_prints_a_non_latin_name_lines_and_totals(ledger_checked, client):
    user = UserFactory(username="yulia", first_name="Юлия", last_name="田中")
    credit("user:yulia", 123_456)
    credit("user:yulia", 200_000)
    credit("user:yulia", 99, currency="eur")
    client.force_login(user)
    year = timezone.now().year
    r = client.get(f"/payouts/statements/{year}.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r["Content-Disposition"] == f'attachment; filename="faiross-statement-yulia-{year}.pdf"'
    assert r.content.startswith(b"%PDF-")
    assert check_pdf(r.content) == 1
    text = pdf_text(r.content)
    assert f"FairOSS statement {year}" in text
    assert "Юлия 田中 (yulia)" in text and "user:yulia" in text
    assert "$1,234.56" in text and "$2,000.00" in text and "€0.99" in text
    assert "USD $3,234.56 $0.00" in text  # the totals row: received, nothing paid out
    assert "EUR €0.99 €0.00" in text


def test_statement_pdf_of_an_empty_year_says_so(client):
    client.force_login(UserFactory(username="bo"))
    r = client.get("/payouts/statements/2001.pdf")
    text = pdf_text(r.content)
    assert check_pdf(r.content) == 1 and "Nothing was received or paid out this year." in text
    assert "bo" in text and "FairOSS statement 2001" in text


def test_a_long_statement_runs_over_several_pages(ledger_checked, client):
    user = UserFactory(username="many")
    for _ in range(70):
        credit("user:many", 1_000)
    client.force_login(user)
    r = client.get(f"/payouts/statements/{timezone.now().year}.pdf")
    pages = check_pdf(r.content)
    assert pages >= 2
    text = pdf_text(r.content)
    assert f"page {pages} of {pages}" in text and "$700.00" in text
