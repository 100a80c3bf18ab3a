"""Collecting a service's validation problems per field, so one answer names every problem."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError

T = TypeVar("T")


class FieldErrors:
    """The problems found so far, per field (the keys of a ``ValidationError`` dict)."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def check(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
        """``func(*args, **kwargs)``; on a ValidationError, None and its messages noted."""
        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.by_field.setdefault(field, []).extend(messages)
            return None

    def raise_any(self) -> None:
        """Raise one ``ValidationError`` holding every problem noted, if there is any."""
        if self.by_field:
            raise ValidationError(self.by_field)
