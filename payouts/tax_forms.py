"""Tax forms (W-9 / W-8BEN): what waits for one, the signed form a person uploads, and staff
marking it collected.

The document is personal data (money rule 9): it lives in the ``private`` storage, outside
MEDIA_ROOT, and is read only through :func:`tax_form_document_for`, which lets the form's owner
and staff in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from faiross.kernel.recipients import user_key

from .connect.transfers import tax_form_needed
from .models import TaxForm
from .selectors import recipient_balances

# A scanned or signed two-page form is well under this; larger uploads are refused unread.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DOCUMENT_MB = MAX_DOCUMENT_BYTES // (1024 * 1024)

# The file's first bytes decide its type, never its name or the browser's Content-Type.
_SIGNATURES = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
)
CONTENT_TYPES = {suffix: content_type for _, suffix, content_type in _SIGNATURES}


@dataclass(frozen=True)
class TaxFormWait:
    """Money of one currency that a payout run keeps back until a tax form is collected."""

    currency: str
    amount: int


def tax_form_waits(*, user: User) -> list[TaxFormWait]:
    """The currencies whose available balance the next payout run would not pay ``user``
    because the year's payouts would pass ``FAIROSS_TAX_FORM_THRESHOLD`` without a collected
    tax form (the same rule as :func:`payouts.connect.transfers.tax_form_needed`)."""
    balances = recipient_balances(recipient=user_key(user.get_username()))
    return [
        TaxFormWait(currency=currency, amount=b["available"])
        for currency, b in sorted(balances.items())
        if b.get("available", 0) > 0
        and tax_form_needed(user=user, currency=currency, amount=b["available"])
    ]


def document_sniff(*, head: bytes) -> str | None:
    """The file suffix (``pdf``, ``png``, ``jpg``) that ``head``, the file's first bytes,
    shows, or None for any other content."""
    for signature, suffix, _ in _SIGNATURES:
        if head.startswith(signature):
            return suffix
    return None


def _document_clean(upload: UploadedFile) -> str:
    if not upload.size:
        raise ValidationError({"document": "The file is empty."})
    if upload.size > MAX_DOCUMENT_BYTES:
        raise ValidationError({"document": f"The file is larger than {MAX_DOCUMENT_MB} MiB."})
    upload.seek(0)
    suffix = document_sniff(head=upload.read(16))
    upload.seek(0)
    if suffix is None:
        raise ValidationError(
            {"document": "Upload the signed form as a PDF, PNG or JPEG file (this file is none)."}
        )
    return suffix


@transaction.atomic
def tax_form_upload(*, user: User, kind: str, upload: UploadedFile) -> TaxForm:
    """Store the signed tax form ``user`` uploaded, for staff to review.

    Preconditions: ``user`` is signed in; ``kind`` is a ``TaxForm.Kind``; the file is a PDF,
    PNG or JPEG by its content and at most ``MAX_DOCUMENT_BYTES`` (else ValidationError naming
    the field). A form already collected is not replaced here (staff do that).
    Invariants: the person has one TaxForm row; a new upload replaces an earlier document not
    yet collected (its file is deleted after commit); ``collected`` stays False until staff
    mark it (:func:`tax_form_mark_collected`); the stored name carries the sniffed type.
    """
    if kind not in TaxForm.Kind.values:
        raise ValidationError({"kind": "Choose W-9 (US persons) or W-8BEN (everyone else)."})
    suffix = _document_clean(upload)
    form = TaxForm.objects.select_for_update().filter(user=user).first()
    if form is not None and form.collected:
        raise ValidationError(
            {"document": "Your tax form is already on file; ask FairOSS staff to replace it."}
        )
    if form is None:
        form = TaxForm(user=user, kind=kind)
    old_name = form.document.name if form.document else ""
    form.kind = kind
    form.uploaded_at = timezone.now()
    form.document.save(f"form.{suffix}", upload, save=False)
    form.save()
    if old_name:
        storage = form.document.storage
        transaction.on_commit(lambda: storage.delete(old_name))
    return form


@transaction.atomic
def tax_form_mark_collected(*, tax_form: TaxForm, staff: User | AnonymousUser) -> TaxForm:
    """Staff: record that the person's signed form is on file, so payouts above the tax-form
    threshold go out again.

    Preconditions: ``staff`` is active staff (else PermissionDenied).
    Invariants: ``collected`` is True with ``collected_on`` (today unless already set) and
    ``recorded_by``; marking twice changes nothing more.
    """
    if not (staff.is_authenticated and staff.is_active and getattr(staff, "is_staff", False)):
        raise PermissionDenied("Only FairOSS staff can mark a tax form collected.")
    form = TaxForm.objects.select_for_update().get(pk=tax_form.pk)
    if form.collected:
        return form
    form.collected = True
    form.collected_on = form.collected_on or timezone.localdate()
    form.recorded_by = staff  # type: ignore[assignment]  # checked as staff above
    form.save(update_fields=["collected", "collected_on", "recorded_by", "updated_at"])
    return form


def tax_form_document_for(*, tax_form_id: int, user: Any) -> TaxForm | None:
    """The tax form whose document ``user`` may read: their own or, for staff, anyone's.
    None when there is no such form, no document, or the user may not see it (callers answer
    404 either way, so nobody learns whether another person uploaded one)."""
    if not getattr(user, "is_authenticated", False):
        return None
    form = TaxForm.objects.filter(pk=tax_form_id).first()
    if form is None or not form.document:
        return None
    if form.user_id != user.pk and not (user.is_active and user.is_staff):
        return None
    return form


def tax_form_threshold() -> int:
    """Minor units paid out per calendar year and currency above which a form is needed."""
    return int(settings.FAIROSS_TAX_FORM_THRESHOLD)
