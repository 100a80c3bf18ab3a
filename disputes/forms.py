"""Forms of the dispute pages and of the ombudsman's admin actions (input shape only;
the rules are in :mod:`disputes.services`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from companies.forms import MoneyField, MoneyForm
from faiross.kernel.forms import form_add_service_errors
from faiross.kernel.shares import millibips_to_percent

from .models import Appeal, Dispute
from .selectors import ombudsmen

T = TypeVar("T")

# "0", "0.00", "0,00": a hold of nothing (a freeze), in any language.
_ZERO = re.compile(r"0+(?:[.,]0*)?")


def service_call(form: forms.Form, call: Callable[[], T], *, denied: str = "") -> T | None:
    """Run ``call`` (a service, for a valid ``form``); what it refuses goes on the form (a
    ``ValidationError`` on the fields it names, a ``PermissionDenied`` on top, ``denied``
    when it says nothing) and the answer is None."""
    try:
        return call()
    except ValidationError as exc:
        form_add_service_errors(form, exc)
    except PermissionDenied as exc:
        form.add_error(None, str(exc) or denied)
    return None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,.txt"})
        )
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):  # type: ignore[no-untyped-def]
        if isinstance(data, list | tuple):
            return [f for f in data if f]
        return [data] if data else []


def _long_text(
    label: str | None = None,
    *,
    rows: int,
    help_text: str = "",
    cols: int | None = None,
    max_length: int = 10_000,
) -> forms.CharField:
    """A text area of at most ``max_length`` characters (``cols``: the admin forms' width)."""
    attrs = {"rows": rows} if cols is None else {"rows": rows, "cols": cols}
    return forms.CharField(
        label=label,
        max_length=max_length,
        widget=forms.Textarea(attrs=attrs),
        help_text=help_text,
    )


def _choices_set(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    """Choices read when the form is made (settings, users), not when the module loads."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _currency_choices() -> list[tuple[str, str]]:
    return [(c, c.upper()) for c in settings.FAIROSS_CURRENCIES]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class EvidenceMixin(forms.Form):
    links = forms.CharField(
        label="Evidence links",
        required=False,
        max_length=6000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "https://github.com/org/repo/pull/123"}
        ),
        help_text="One http(s) link per line (pull requests, commits, messages).",
    )
    # A form field named "files": the form metaclass moves it into ``base_fields``, so it
    # never shadows ``BaseForm.files`` at runtime.
    files = MultipleFileField(  # type: ignore[assignment]
        label="Evidence files",
        help_text="Up to 5 files, each at most 5 MiB: PDF, PNG, JPEG or plain text (.txt).",
    )

    def link_list(self) -> list[str]:
        return _lines(self.cleaned_data.get("links", ""))


class DisputeFileForm(MoneyForm, EvidenceMixin):
    kind = forms.ChoiceField(choices=Dispute.Kind.choices, label="Kind of dispute")
    title = forms.CharField(
        max_length=200, help_text="One line, e.g. 'My work on the parser is not credited'."
    )
    description = _long_text(
        "What happened",
        rows=8,
        help_text="Facts, dates and what you ask for. The parties and the ombudsmen read this.",
    )
    # Typed in currency units by the person's language; MoneyForm reads it in the currency
    # chosen below (an int of minor units, or None).
    amount_at_stake = MoneyField(
        label="Money at stake (optional)", required=False, help_text="In the currency below."
    )
    currency = forms.ChoiceField(required=False)
    target = forms.CharField(widget=forms.HiddenInput, max_length=320)
    field_order = ["kind", "title", "description", "links", "files", "amount_at_stake", "currency"]

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        _choices_set(self, "currency", [("", "—"), *_currency_choices()])


class RespondForm(EvidenceMixin):
    body = _long_text("Your message", rows=5)
    field_order = ["body", "links", "files"]


class AppealForm(forms.Form):
    reason = _long_text(
        "Why you appeal",
        rows=5,
        help_text="Another ombudsman will decide. Each party may appeal once.",
    )


# --- admin action forms ------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = _long_text(
        rows=3,
        cols=80,
        max_length=2000,
        help_text="Required. It goes on the audit trail and, except for notes, to the parties.",
    )


def _ombudsman_choices() -> list[tuple[str, str]]:
    return [("", "— nobody —")] + [(str(u.pk), u.get_username()) for u in ombudsmen()]


class AssignForm(ReasonForm):
    assignee = forms.ChoiceField(required=False)
    field_order = ["assignee", "reason"]

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        _choices_set(self, "assignee", _ombudsman_choices())

    def assignee_user(self):  # type: ignore[no-untyped-def]
        pk = self.cleaned_data.get("assignee")
        return get_user_model().objects.filter(pk=pk).first() if pk else None


class DeadlineForm(ReasonForm):
    deadline = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty clears the deadline.",
    )
    field_order = ["deadline", "reason"]


class CurrencyMixin(forms.Form):
    currency = forms.ChoiceField()

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        _choices_set(self, "currency", _currency_choices())


class StakeForm(MoneyForm, CurrencyMixin, ReasonForm):
    # Typed in currency units by the ombudsman's language; MoneyForm reads it in the
    # currency chosen below (int minor units).
    amount = MoneyField(label="Money at stake", help_text="In the currency below.")
    field_order = ["amount", "currency", "reason"]


class NoteForm(forms.Form):
    body = _long_text("Internal note", rows=5, cols=80, help_text="Only ombudsmen see notes.")


class MessageForm(forms.Form):
    body = _long_text(
        "Message to the parties",
        rows=5,
        cols=80,
        help_text="Shown on the dispute page and emailed to every party.",
    )


class HoldForm(MoneyForm, CurrencyMixin, ReasonForm):
    recipient = forms.CharField(
        max_length=300, help_text="Whose money, e.g. user:bob or github:octocat."
    )
    source = forms.ChoiceField(
        choices=[
            ("", "default for the recipient"),
            ("available", "available"),
            ("escrow", "escrow"),
            ("reserve", "reserve"),
        ],
        required=False,
        help_text="Default: available for user:, escrow for github:/email:, reserve for project:.",
    )
    amount = MoneyField(help_text="In the currency below; 0 freezes payouts without moving money.")
    field_order = ["recipient", "source", "amount", "currency", "reason"]

    def clean(self) -> dict[str, Any]:
        # A hold of 0 is a freeze, which the money reading (above zero) would refuse.
        text = str(self.cleaned_data.get("amount") or "")
        if _ZERO.fullmatch(text.strip()):
            self.cleaned_data["amount"] = ""
            data = super().clean()
            data["amount"] = 0
            return data
        return super().clean()


class ReleaseForm(ReasonForm):
    pass


class RedirectForm(MoneyForm, ReasonForm):
    """Read in the hold's currency (``currency``), which the ombudsman does not choose."""

    to_recipient = forms.CharField(
        label="To recipient",
        max_length=300,
        help_text="e.g. user:carol, github:octocat, project:numpy.",
    )
    amount = MoneyField(required=False, help_text="Empty redirects all that the hold still holds.")
    field_order = ["to_recipient", "amount", "reason"]

    def __init__(self, *args: Any, currency: str = "usd", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        field = self.fields["amount"]
        field.help_text = f"In {currency.upper()}. {field.help_text}"

    def clean(self) -> dict[str, Any]:
        self.cleaned_data["currency"] = self.currency
        return super().clean()


class CorrectTableForm(ReasonForm):
    owner_key = forms.CharField(
        label="Table owner", max_length=120, help_text="e.g. project:numpy (the disputed table)."
    )
    entries = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField"}),
        help_text="One row per line: '<recipient> <share in %> [note]', e.g. 'user:bob 12.5' "
        "for 12.5%. The rest is the reserve. The new version becomes active at once.",
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The example is written the way the ombudsman's language writes 12.5.
        example = millibips_to_percent(millibips=1_250_000)
        field = self.fields["entries"]
        field.help_text = str(field.help_text).replace("12.5", example)

    field_order = ["owner_key", "entries", "reason"]


class StewardsForm(ReasonForm):
    stewards = forms.CharField(
        max_length=2000,
        help_text="Usernames, separated by commas or spaces: they become the only stewards "
        "(one name = transfer of ownership).",
    )
    former = forms.ChoiceField(
        choices=[
            ("maintainer", "Former stewards stay as maintainers"),
            ("remove", "Former stewards leave the project"),
        ],
        initial="maintainer",
    )
    field_order = ["stewards", "former", "reason"]

    def names(self) -> list[str]:
        return [n for n in self.cleaned_data["stewards"].replace(",", " ").split() if n]


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(choices=Dispute.Outcome.choices)
    resolution = _long_text(
        rows=8, cols=80, help_text="The written resolution, emailed to every party."
    )


class AppealDecideForm(forms.Form):
    decision = forms.ChoiceField(choices=Appeal.Decision.choices)
    outcome = forms.ChoiceField(
        choices=[("", "—"), *list(Dispute.Outcome.choices)],
        required=False,
        help_text="The new outcome when you overturn the resolution.",
    )
    text = _long_text("Decision", rows=6, cols=80, help_text="Final; emailed to every party.")
