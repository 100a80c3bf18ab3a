"""A payout waiting for a tax form says so on the earnings page; the person uploads the signed
form there (private storage, PDF/PNG/JPEG by content); only they and staff can open it; staff
mark it collected in admin."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from payouts import tax_forms
from payouts.models import TaxForm
from tests.factories import StaffFactory, TaxFormFactory, UserFactory
from tests.payouts.payout_helpers import credit

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _private_files_removed():
    """Uploaded documents go to the real private storage; remove them after each test."""
    yield
    for form in TaxForm.objects.exclude(document=""):
        form.document.storage.delete(form.document.name)


@pytest.fixture
def waiting(user, settings):
    """alice has $150.00 available and the yearly tax-form limit is $100.00."""
    settings.FAIROSS_TAX_FORM_THRESHOLD = 10_000
    credit("user:alice", 15_000)
    return user


def upload(client, content: bytes, name: str = "w9.pdf", kind: str = "w9"):
    return client.post(
        "/payouts/tax-form/", {"kind": kind, "document": SimpleUploadedFile(name, content)}
    )


def test_earnings_says_a_payout_waits_for_a_tax_form(client, waiting):
    client.force_login(waiting)
    page = client.get("/payouts/earnings/").content.decode()
    assert "Payouts are waiting for your tax form" in page and "$150.00" in page
    assert 'href="/payouts/tax-form/"' in page


def test_no_tax_form_notice_below_the_limit(client, user):
    credit("user:alice", 5_000)
    client.force_login(user)
    assert "waiting for your tax form" not in client.get("/payouts/earnings/").content.decode()


def test_upload_stores_the_form_privately_for_staff_review(client, waiting):
    client.force_login(waiting)
    r = upload(client, PDF)
    assert r.status_code == 302 and r["Location"] == "/payouts/earnings/"
    form = TaxForm.objects.get(user=waiting)
    assert form.kind == "w9" and not form.collected and form.uploaded_at is not None
    stored = Path(form.document.path)
    assert stored.read_bytes() == PDF and stored.suffix == ".pdf"
    private_root = Path(django_settings.PRIVATE_MEDIA_ROOT).resolve()
    assert private_root in stored.resolve().parents
    assert Path(django_settings.MEDIA_ROOT).resolve() not in stored.resolve().parents
    page = client.get("/payouts/earnings/").content.decode()
    assert "waiting for staff review" in page and "your signed form was uploaded" in page
    # Outside MEDIA_ROOT and linked only to the checking view: nothing public serves it.
    assert "/media/" not in page and f"/payouts/tax-form/{form.pk}/document/" in page
    assert client.get(f"/media/{form.document.name}").status_code == 404


def test_the_files_type_comes_from_its_content(client, waiting):
    client.force_login(waiting)
    assert upload(client, PNG, name="scan.pdf").status_code == 302
    assert TaxForm.objects.get().document.name.endswith(".png")
    assert upload(client, JPEG, name="photo.jpeg", kind="w8ben").status_code == 302
    form = TaxForm.objects.get()  # one form per person: the new upload replaced the first
    assert form.document.name.endswith(".jpg") and form.kind == "w8ben"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"<html><script>alert(1)</script>", "w9.pdf", "as a PDF, PNG or JPEG file"),
        (b"GIF89a" + b"\x00" * 20, "w9.gif", "as a PDF, PNG or JPEG file"),
        (b"%PDF-" + b"0" * tax_forms.MAX_DOCUMENT_BYTES, "w9.pdf", "larger than 5 MiB"),
    ],
)
def test_bad_files_are_refused_with_the_rule(client, waiting, content, name, message):
    client.force_login(waiting)
    r = upload(client, content, name=name)
    assert r.status_code == 400 and message in r.content.decode()
    assert not TaxForm.objects.exists()


def test_a_collected_form_is_not_replaced_by_an_upload(client, user):
    TaxFormFactory(user=user)
    client.force_login(user)
    r = upload(client, PDF)
    assert r.status_code == 400 and "already on file" in r.content.decode()
    assert not TaxForm.objects.get().document


def test_only_the_owner_and_staff_can_download_the_document(client, waiting):
    client.force_login(waiting)
    upload(client, PDF)
    form = TaxForm.objects.get()
    url = f"/payouts/tax-form/{form.pk}/document/"
    r = client.get(url)
    assert r.status_code == 200 and b"".join(r.streaming_content) == PDF
    assert r["Content-Type"] == "application/pdf" and "attachment" in r["Content-Disposition"]
    assert r["X-Content-Type-Options"] == "nosniff" and "no-store" in r["Cache-Control"]
    client.force_login(UserFactory(username="mallory"))
    assert client.get(url).status_code == 404
    assert client.get("/payouts/tax-form/999999/document/").status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(StaffFactory(username="sam"))
    assert client.get(url).status_code == 200


def test_staff_review_in_admin_and_mark_collected(client, waiting):
    client.force_login(waiting)
    upload(client, PDF)
    form = TaxForm.objects.get()
    staff = StaffFactory(username="sam", is_superuser=True)
    client.force_login(staff)
    listing = client.get("/admin/payouts/taxform/").content.decode()
    assert f"/payouts/tax-form/{form.pk}/document/" in listing
    change = client.get(f"/admin/payouts/taxform/{form.pk}/change/").content.decode()
    assert "Download the uploaded form" in change
    r = client.post(
        "/admin/payouts/taxform/",
        {"action": "mark_collected", "_selected_action": [form.pk]},
        follow=True,
    )
    assert "is collected" in r.content.decode()
    form.refresh_from_db()
    assert form.collected and form.collected_on and form.recorded_by == staff
    # Nothing waits any more: the next payout run pays the balance.
    assert tax_forms.tax_form_waits(user=waiting) == []
    client.force_login(waiting)
    assert "waiting for your tax form" not in client.get("/payouts/earnings/").content.decode()


def test_mark_collected_needs_staff(user):
    form = TaxFormFactory(user=user, collected=False, collected_on=None)
    with pytest.raises(PermissionDenied, match="Only FairOSS staff"):
        tax_forms.tax_form_mark_collected(tax_form=form, staff=user)
