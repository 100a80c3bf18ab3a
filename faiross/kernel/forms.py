"""Showing a service's error on the form a person filled in (one rule for every page)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError


def form_add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put ``error``'s messages on the fields it names; messages for fields the form does not
    have (or with no field) go to the form's top, so nothing a service said is lost."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def form_initial(
    form_class: type[forms.Form], instance: object, **given: object
) -> dict[str, object]:
    """Initial values for editing ``instance``: each field of ``form_class`` from the attribute
    of the same name, except the fields ``given`` sets (say, a list shown as lines)."""
    return {
        name: given[name] if name in given else getattr(instance, name)
        for name in form_class.base_fields
    }


def form_service_saved(form: forms.Form, save: Callable[[], object]) -> bool:
    """Whether ``form`` is valid and ``save`` (a service called with its cleaned data) went
    through; a ``ValidationError`` from the service goes on the form and gives False."""
    if not form.is_valid():
        return False
    try:
        save()
    except ValidationError as exc:
        form_add_service_errors(form, exc)
        return False
    return True


# --- confirming what was understood before it is recorded -----------------------------------
#
# A money form is sent twice: first it is read and the page says back what it understood
# ("You are recording €2,000.50 … — Confirm / Change"), with the typed values carried in
# hidden inputs; only the second sending, with ``step=confirm``, records it. A typo in an
# amount or a date is seen before anything is stored.

STEP_FIELD = "step"
CONFIRM = "confirm"
CHANGE = "change"
DUPLICATE_FIELD = "confirm_duplicate"


def form_step(data: Mapping[str, Any]) -> str:
    """Which button sent the form: ``"confirm"`` (record it), ``"change"`` (back to the
    filled-in form) or ``""`` (the first sending: show what was understood)."""
    step = data.get(STEP_FIELD, "")
    return step if step in (CONFIRM, CHANGE) else ""


def form_duplicate_confirmed(data: Mapping[str, Any]) -> bool:
    """Whether the person ticked "record it again" after being told an identical record
    exists."""
    return data.get(DUPLICATE_FIELD) == "yes"


def form_hidden_values(form: forms.Form) -> list[tuple[str, str]]:
    """The values ``form`` was sent with, as (input name, value) pairs for hidden inputs of
    the confirmation page, so that confirming sends exactly what was understood."""
    pairs: list[tuple[str, str]] = []
    for name in form.fields:
        key = form.add_prefix(name)
        values = form.data.getlist(key) if hasattr(form.data, "getlist") else [form.data.get(key)]
        pairs.extend((key, str(v)) for v in values if v is not None)
    return pairs
