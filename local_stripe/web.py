"""Plain request/response values shared by the HTTP layer, the API and the pages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol


class Headers(Protocol):
    """Case-insensitive header lookup, as ``http.server`` provides it."""

    def get(self, name: str, /) -> str | None:
        """The header's value, or None."""


@dataclass
class Request:
    """An HTTP request, already read off the socket."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    base_url: str

    def header(self, name: str) -> str | None:
        """A header value, or None when absent or empty (lookup is case-insensitive)."""
        value = self.headers.get(name)
        return value.strip() or None if value is not None else None


@dataclass
class Response:
    """What to answer; ``drop`` closes the connection without answering at all."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer."""
    body = json.dumps(data).encode()
    return Response(status, body, "application/json", dict(headers or {}))


def html_response(status: int, html: str) -> Response:
    """An HTML page."""
    return Response(status, html.encode(), "text/html; charset=utf-8")


def redirect(location: str) -> Response:
    """A 303 See Other, which a browser follows with a GET (right after a form POST)."""
    return Response(303, b"", "text/plain", {"Location": location})
