"""Showing a service's error on the form a person filled in (one rule for every page)."""

from __future__ import annotations

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
