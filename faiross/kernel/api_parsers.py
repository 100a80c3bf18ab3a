"""The API's JSON parser: a NUL character anywhere in a body is a 400 naming where it is.

PostgreSQL text cannot hold NUL (``\\u0000``). The input serializers refuse it in the fields
they declare, but a NUL in a field a serializer passes through untouched (a table entry's
note), in a key, or deep inside a list reached the database and answered 500. Refusing it at
the parser covers every API call at once, with DESIGN.md's error shape:
``{"entries[2].note": ["NUL characters (\\u0000) are not allowed."]}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework import serializers
from rest_framework.parsers import JSONParser

from .api_fields import NUL_MESSAGE

MAX_REPORTED = 20  # paths named in one answer; a body full of NULs need not echo them all


def nul_paths(value: Any, path: str = "") -> Iterator[str]:
    """Where ``value`` (parsed JSON) holds a NUL character, as ``entries[2].note`` paths.

    A NUL in an object key is reported at that key (with the NUL removed, so the answer is
    itself storable and printable); the body's top level is ``non_field_errors``.
    """
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "non_field_errors"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            child = f"{path}.{name}" if path else name
            if "\x00" in name:
                yield child.replace("\x00", "") or "non_field_errors"
                continue
            yield from nul_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nul_paths(item, f"{path}[{index}]")


class NulRefusingJSONParser(JSONParser):
    """DRF's JSON parser, then a 400 for every NUL character (see the module doc)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        errors: dict[str, list[str]] = {}
        for path in nul_paths(data):
            errors.setdefault(path, [NUL_MESSAGE])
            if len(errors) >= MAX_REPORTED:
                break
        if errors:
            raise serializers.ValidationError(errors)
        return data
