"""Showing a service's error on the form a person filled in (one rule for every page)."""

from __future__ import annotations

from collections.abc import Callable

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
