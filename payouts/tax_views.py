"""Tax-form pages: upload the signed W-9 / W-8BEN, and read it back (its owner and staff)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from faiross.kernel.forms import form_add_service_errors
from projects.auth import signed_in_user

from . import tax_forms
from .models import TaxForm


class TaxFormUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="Form",
        choices=[
            (TaxForm.Kind.W9, "W-9 (US persons)"),
            (TaxForm.Kind.W8BEN, "W-8BEN (everyone else)"),
        ],
    )
    document = forms.FileField(
        label="Signed form",
        help_text=(
            f"PDF, PNG or JPEG, at most {tax_forms.MAX_DOCUMENT_MB} MiB. Only you and FairOSS "
            "staff can open it."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )


@login_required
def tax_form(request: HttpRequest) -> HttpResponse:
    """The person's tax form: its state, what waits for it, and the upload form."""
    user = signed_in_user(request)
    current = TaxForm.objects.filter(user=user).first()
    form = TaxFormUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            tax_forms.tax_form_upload(
                user=user, kind=form.cleaned_data["kind"], upload=form.cleaned_data["document"]
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            messages.success(
                request,
                "Thank you: your signed form was uploaded. FairOSS staff review it; payouts "
                "waiting for it go out in the first payout run after that.",
            )
            return redirect("payouts:earnings")
    return render(
        request,
        "payouts/tax_form.html",
        {
            "form": form,
            "tax_form": current,
            "waits": tax_forms.tax_form_waits(user=user),
            "tax_threshold": tax_forms.tax_form_threshold(),
        },
        status=400 if form.errors else 200,
    )


@login_required
def tax_form_document(request: HttpRequest, pk: int) -> FileResponse:
    """The uploaded document, as a download, to its owner and staff; 404 to anyone else."""
    form = tax_forms.tax_form_document_for(tax_form_id=pk, user=request.user)
    if form is None:
        raise Http404("No such document.")
    suffix = (form.document.name or "").rsplit(".", 1)[-1].lower()
    response = FileResponse(
        form.document.open("rb"),
        as_attachment=True,
        filename=f"tax-form-{form.get_kind_display()}-{form.user.get_username()}.{suffix}",
        content_type=tax_forms.CONTENT_TYPES.get(suffix, "application/octet-stream"),
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
