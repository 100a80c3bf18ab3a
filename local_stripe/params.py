"""Decoding Stripe's form-encoded parameters and reading them with Stripe's validation rules.

The official library sends ``a[b][c]=v`` for nested objects and ``a[0]=v`` for arrays; curl
users often write ``a[]=v``. :func:`decode_form` turns such pairs into nested dicts and lists;
:class:`Params` reads typed values from them and raises the errors Stripe would.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from .errors import StripeError, invalid_param, missing_param, unknown_param

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

# Names whose children are free-form keys, never array indexes.
_FREE_FORM = frozenset({"metadata"})

METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
MAX_AMOUNT = 99_999_999_999


def decode_form(text: str) -> dict[str, Any]:
    """Decode a query string or form body into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        _insert(root, _split_key(key), value, key)
    return _listify(root)


def _split_key(key: str) -> list[str]:
    match = _KEY.match(key)
    if not match:
        raise invalid_param(key, f"Invalid parameter name: {key}")
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def _insert(root: dict[str, Any], parts: list[str], value: str, raw_key: str) -> None:
    node = root
    for depth, part in enumerate(parts):
        # An empty segment ("a[]") appends, so it takes the next free index.
        name = part if part != "" else str(len(node))
        last = depth == len(parts) - 1
        if last:
            if isinstance(node.get(name), dict):
                raise invalid_param(raw_key, f"Invalid parameter: {raw_key} is an object")
            node[name] = value
            return
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise invalid_param(
                raw_key, f"Invalid parameter: {raw_key} mixes a value and an object"
            )
        node = child


def _listify(node: dict[str, Any]) -> dict[str, Any]:
    """Turn dicts keyed 0..n into lists, except under free-form names like ``metadata``."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        out[key] = _convert(value, key) if isinstance(value, dict) else value
    return out


def _convert(value: dict[str, Any], name: str) -> Any:
    converted = _listify(value)
    if name in _FREE_FORM or not converted or not all(k.isdigit() for k in converted):
        return converted
    return [converted[k] for k in sorted(converted, key=int)]


class Params:
    """Typed, validated access to one request's parameters (or a nested object of them)."""

    def __init__(self, data: dict[str, Any], prefix: str = "", *, lenient: bool = False) -> None:
        self.data = data
        self.prefix = prefix
        self.lenient = lenient

    def path(self, name: str) -> str:
        """The parameter's full name as Stripe reports it, e.g. ``line_items[0][quantity]``."""
        return f"{self.prefix}[{name}]" if self.prefix else name

    def has(self, name: str) -> bool:
        """Whether the parameter was sent at all."""
        return name in self.data

    def _given(self, name: str, required: bool = False) -> Any:
        """The raw value, or None when not sent or empty (a 400 if it is ``required``)."""
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise missing_param(self.path(name))
            return None
        return value

    def only(self, allowed: str | Iterable[str]) -> None:
        """Reject parameters the endpoint does not know, as Stripe does.

        ``allowed`` holds the names, or is one string of them separated by whitespace.
        """
        if self.lenient:
            return
        names = allowed.split() if isinstance(allowed, str) else allowed
        known = set(names) | {"expand"}
        for name in self.data:
            if name not in known:
                raise unknown_param(self.path(name))

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        default: str | None = None,
        choices: Iterable[str] | None = None,
        max_length: int = 5000,
    ) -> str | None:
        """A string parameter; an empty string counts as not set."""
        value = self._given(name, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise invalid_param(self.path(name), f"Invalid string: {self.path(name)}")
        if len(value) > max_length:
            raise invalid_param(
                self.path(name), f"{self.path(name)} must be at most {max_length} characters."
            )
        if choices is not None and value not in set(choices):
            options = ", ".join(sorted(choices))
            raise invalid_param(
                self.path(name), f"Invalid {self.path(name)}: must be one of {options}"
            )
        return value

    def req_string(self, name: str, **kwargs: Any) -> str:
        """A required string parameter."""
        value = self.string(name, required=True, **kwargs)
        assert value is not None
        return value

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        """An integer parameter sent as decimal digits."""
        value = self._given(name, required)
        if value is None:
            return default
        if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
            raise invalid_param(
                self.path(name), f"Invalid integer: {value}", code="parameter_invalid_integer"
            )
        number = int(value)
        if minimum is not None and number < minimum:
            raise invalid_param(
                self.path(name),
                f"This value must be greater than or equal to {minimum}.",
                code="parameter_invalid_integer",
            )
        if maximum is not None and number > maximum:
            raise invalid_param(
                self.path(name),
                f"This value must be less than or equal to {maximum}.",
                code="parameter_invalid_integer",
            )
        return number

    def req_integer(self, name: str, **kwargs: Any) -> int:
        """A required integer parameter."""
        value = self.integer(name, required=True, **kwargs)
        assert value is not None
        return value

    def amount(self, name: str = "amount", *, required: bool = True) -> int | None:
        """A positive amount in the currency's minor unit."""
        value = self.integer(name, required=required, minimum=1)
        if value is not None and value > MAX_AMOUNT:
            raise StripeError(
                400,
                "Amount must be no more than 99,999,999,999.",
                code="amount_too_large",
                param=self.path(name),
            )
        return value

    def money(self) -> tuple[int, str]:
        """The required ``amount`` and ``currency`` of a movement of money."""
        amount, currency = self.amount(), self.currency()
        assert amount is not None and currency is not None
        return amount, currency

    def currency(self, name: str = "currency", *, required: bool = True) -> str | None:
        """A three-letter ISO currency code, answered lower-case like Stripe."""
        value = self.string(name, required=required)
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{3}", value):
            raise invalid_param(self.path(name), f"Invalid currency: {value}.")
        return value.lower()

    def boolean(self, name: str, *, default: bool = False) -> bool:
        """A boolean parameter sent as ``true``/``false``."""
        value = self._given(name)
        if value is None:
            return default
        if value not in ("true", "false"):
            raise invalid_param(
                self.path(name), f"Invalid boolean: {value}", code="parameter_invalid_boolean"
            )
        return value == "true"

    def obj(self, name: str) -> Params:
        """A nested object parameter (empty when absent)."""
        value = self._given(name)
        if value is None:
            return Params({}, self.path(name), lenient=self.lenient)
        if not isinstance(value, dict):
            raise invalid_param(self.path(name), f"Invalid object: {self.path(name)}")
        return Params(value, self.path(name), lenient=self.lenient)

    def objects(self, name: str) -> list[Params]:
        """An array of objects, e.g. ``line_items``."""
        return [self._item(name, index, value) for index, value in enumerate(self._array(name))]

    def _item(self, name: str, index: int, value: Any) -> Params:
        path = f"{self.path(name)}[{index}]"
        if not isinstance(value, dict):
            raise invalid_param(path, f"Invalid object: {path}")
        return Params(value, path, lenient=self.lenient)

    def strings(self, name: str) -> list[str]:
        """An array of strings, e.g. ``payment_method_types`` or ``expand``."""
        values = self._array(name)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                path = f"{self.path(name)}[{index}]"
                raise invalid_param(path, f"Invalid string: {path}")
        return values

    def _array(self, name: str) -> list[Any]:
        value = self._given(name)
        if value is None:
            return []
        if isinstance(value, str):
            # Stripe accepts a single value where an array is expected.
            return [value]
        if isinstance(value, dict):
            raise invalid_param(self.path(name), f"Invalid array: {self.path(name)}")
        return list(value)

    def metadata(self, current: dict[str, str] | None = None) -> dict[str, str]:
        """Metadata merged onto ``current``: an empty value unsets a key, ``metadata=`` clears."""
        result = dict(current or {})
        value = self.data.get("metadata")
        if value is None:
            return result
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid_param(self.path("metadata"), "Invalid metadata: must be an object")
        for key, item in value.items():
            self._check_metadata_entry(key, item)
            if item == "":
                result.pop(key, None)
            else:
                result[key] = item
        if len(result) > METADATA_MAX_KEYS:
            raise invalid_param(
                self.path("metadata"), f"Metadata can have up to {METADATA_MAX_KEYS} keys."
            )
        return result

    def _check_metadata_entry(self, key: str, item: Any) -> None:
        path = f"{self.path('metadata')}[{key}]"
        if not isinstance(item, str):
            raise invalid_param(path, f"Invalid metadata value for {key}: must be a string")
        if len(key) > METADATA_KEY_MAX:
            raise invalid_param(
                path, f"Metadata keys can be up to {METADATA_KEY_MAX} characters long."
            )
        if len(item) > METADATA_VALUE_MAX:
            raise invalid_param(
                path, f"Metadata values can be up to {METADATA_VALUE_MAX} characters long."
            )
