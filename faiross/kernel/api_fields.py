"""DRF input fields that apply the kernel's rules, for the API's input serializers.

Every API call parses its input once, through a ``<Thing>Input`` serializer built from these
fields, and passes the typed ``validated_data`` to a service (DESIGN.md "Bad input"): a value
of the wrong JSON type, a NUL character or a number out of range is a 400 naming the field,
never a 500. The rules themselves live in the kernel (:mod:`faiross.kernel.money`,
:mod:`faiross.kernel.recipients`, :mod:`faiross.kernel.shares`); these fields only call them
and turn their Django ``ValidationError`` into DRF's.

- :class:`NoNulCharField`: a JSON string (never a number or a boolean) without NUL characters;
- :class:`StrictIntegerField` / :class:`StrictBooleanField`: a JSON number / ``true``/``false``,
  not a string that looks like one (for JSON bodies; forms and query strings use DRF's own);
- :class:`FlatListField`: a JSON list whose item errors are one flat list of messages;
- :class:`AmountField` / :class:`CurrencyField`: :func:`~faiross.kernel.money.amount_clean`
  and :func:`~faiross.kernel.money.currency_clean`;
- :class:`StrictDateField`: a ``YYYY-MM-DD`` string;
- :class:`MillibipsField`: a share, an int in ``min_value..FULL_SHARE``;
- :class:`RecipientField`: :func:`~faiross.kernel.recipients.parse_recipient`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from .money import MAX_AMOUNT, amount_clean, currency_clean
from .recipients import MAX_RECIPIENT_LENGTH, RecipientError, parse_recipient
from .shares import FULL_SHARE

NUL_MESSAGE = "NUL characters (\\u0000) are not allowed."


def field_messages(exc: DjangoValidationError, field: str) -> list[str]:
    """The messages of a kernel validator's ``ValidationError`` for ``field``, as a list."""
    if hasattr(exc, "error_dict"):
        by_field = exc.message_dict
        if field in by_field:
            return list(by_field[field])
        return [m for msgs in by_field.values() for m in msgs]
    return list(exc.messages)


def reject_nul(value: object) -> None:
    """Validator: a string with a NUL character (which PostgreSQL cannot store) is refused."""
    if isinstance(value, str) and "\x00" in value:
        raise serializers.ValidationError(NUL_MESSAGE, code="null_characters_not_allowed")


class NoNulCharField(serializers.CharField):
    """A string input: only a JSON string, never with NUL characters."""

    default_error_messages = {
        "invalid": "Must be a string.",
        "null_characters_not_allowed": NUL_MESSAGE,
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        reject_nul(data)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON number that is a whole number; ``"5"``, ``5.5`` and ``true`` are refused."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``; ``"yes"``, ``1`` and ``"true"`` are refused."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class FlatListField(serializers.ListField):
    """A JSON list whose item errors stay a flat list of messages under the field
    (``{"purls": ["item 2: Must be a string."]}``), as DESIGN.md's error shape says."""

    default_error_messages = {"not_a_list": "Must be a list, not {input_type}."}

    def __init__(self, *, item_name: str = "item", **kwargs: Any) -> None:
        self.item_name = item_name
        super().__init__(**kwargs)

    def run_child_validation(self, data: Any) -> list[Any]:
        try:
            return list(super().run_child_validation(data))
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {0: exc.detail}
            messages: list[str] = []
            for index, errors in detail.items():
                for message in _flat(errors):
                    messages.append(f"{self.item_name} {int(index) + 1}: {message}")
            raise serializers.ValidationError(messages) from None


def _flat(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [f"{key}: {m}" for key, value in errors.items() for m in _flat(value)]
    if isinstance(errors, list):
        return [m for e in errors for m in _flat(e)]
    return [str(errors)]


class AmountField(serializers.IntegerField):
    """An amount in minor units (cents), by :func:`faiross.kernel.money.amount_clean`.

    ``max_value`` may name a larger limit than :data:`~faiross.kernel.money.MAX_AMOUNT` for
    amounts that are not invoiced as such (a company's whole dividend, liquidity proceeds);
    the type rule and the message are the same.
    """

    def __init__(self, *, max_value: int = MAX_AMOUNT, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", f"Integer minor units (cents), 1 to {max_value:,}.")
        super().__init__(min_value=1, max_value=max_value, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        field = self.field_name or "amount"
        limit = self.max_value if self.max_value is not None else MAX_AMOUNT
        try:
            if limit <= MAX_AMOUNT or not isinstance(data, int) or isinstance(data, bool):
                # amount_clean's rules; a wrong type is refused by it whatever the limit.
                return amount_clean(amount=data, field=field)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(field_messages(exc, field)) from None
        if not 0 < data <= limit:
            raise serializers.ValidationError(
                f"The amount must be from 1 to {limit:,} minor units."
            )
        return data


class StrictDateField(serializers.DateField):
    """A date as a JSON string ``YYYY-MM-DD``; numbers, lists and NUL characters are refused.
    With ``blank_is_none``, ``""`` means no date (as ``null`` does with ``allow_null``)."""

    default_error_messages = {"invalid": "Give a date as YYYY-MM-DD."}

    def __init__(self, *, blank_is_none: bool = False, **kwargs: Any) -> None:
        self.blank_is_none = blank_is_none
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if self.blank_is_none and data == "":
            return None
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class CurrencyField(serializers.CharField):
    """A supported ISO 4217 code, by :func:`faiross.kernel.money.currency_clean` (lower-cased)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault(
            "help_text",
            "Lower-case ISO 4217 code, one of: " + ", ".join(settings.FAIROSS_CURRENCIES) + ".",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        reject_nul(data)
        field = self.field_name or "currency"
        try:
            return currency_clean(currency=data, field=field)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(field_messages(exc, field)) from None


class MillibipsField(StrictIntegerField):
    """A share in millibips: a whole number from ``min_value`` (default 1) to 10,000,000."""

    default_error_messages = {
        "invalid": "Must be a whole number of millibips (10,000,000 = 100%).",
        # Django's value validators %-format their message, hence the doubled percent sign.
        "max_value": "May not be more than 100%% (10,000,000 millibips).",
        "min_value": "Must be at least {min_value} millibips.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", FULL_SHARE)
        super().__init__(**kwargs)


class RecipientField(serializers.CharField):
    """A recipient (``project:<slug>``, ``user:``, ``github:``, ``email:``, ``purl:``), by
    :func:`faiross.kernel.recipients.parse_recipient`; nothing is trimmed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_RECIPIENT_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault(
            "help_text",
            "project:<slug>, user:<username>, github:<login>, email:<address> or "
            "purl:<package-url>",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        reject_nul(data)
        try:
            kind, identifier = parse_recipient(data)
        except RecipientError as exc:
            raise serializers.ValidationError(exc.message) from None
        return f"{kind}:{identifier}"


class NoUnknownFieldsSerializer(serializers.Serializer):
    """An input serializer that refuses keys it does not know (a typo must not pass silently)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(str(k) for k in set(initial) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {"non_field_errors": [f"Unknown field(s): {', '.join(unknown)}."]}
            )
        return attrs
