"""A refusal because of what is already there, not because the input is malformed.

``ConflictError`` is a Django ``ValidationError`` (forms show it on the named field like any
other), which the API answers with 409 Conflict instead of 400
(:func:`faiross.kernel.api_errors.exception_handler`): the same request may be right once the
caller has looked at what exists (a duplicate to confirm, a reference used for other money).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class ConflictError(ValidationError):
    """The request clashes with a record that already exists (API: 409)."""


class DuplicateError(ConflictError):
    """The same thing was already recorded; sending it again with an explicit confirmation
    (``confirm_duplicate``) records it a second time."""
