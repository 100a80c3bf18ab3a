"""The one outbound HTTP client: every call FairOSS makes to another site (GitHub's API, raw
repository files, PyPI, npm) goes through :func:`outbound_get`.

The URLs it fetches are built from user input (a repository URL, a package name), so the
client is deliberately narrow: GET only, http(s) only, a connect/read timeout *and* a total
deadline (a server that drips one byte a second cannot hold a worker), a body size limit
(checked against ``Content-Length`` and again while reading), and redirects followed only
to the same scheme, host and port — a redirect elsewhere is refused, never followed, so a
repository host cannot bounce FairOSS to an internal address. Every failure is one of the
:class:`OutboundError` subclasses, whose message a user can read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class OutboundError(Exception):
    """An outbound call that gave no usable answer; ``str(exc)`` says why, for a user."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class OutboundUnreachable(OutboundError):
    """The host could not be reached (DNS, refused connection, TLS, reset)."""


class OutboundTimeout(OutboundUnreachable):
    """The host did not answer in time (connect, read, or the total deadline)."""


class OutboundTooLarge(OutboundError):
    """The answer is bigger than the limit of the call."""


class OutboundRedirectRefused(OutboundError):
    """The host redirected to another host (or scheme or port), or redirected too often."""


class OutboundBadResponse(OutboundError):
    """The answer could not be read as asked (e.g. not JSON)."""


@dataclass(frozen=True)
class OutboundResponse:
    """A finished answer: the final URL (after same-host redirects), status and body."""

    url: str
    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise OutboundBadResponse(
                f"{_host(self.url)} answered something that is not JSON.", url=self.url
            ) from None


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError(f"'{url[:200]}' is not an http(s) URL.", url=url)


def _read_body(response: requests.Response, *, url: str, max_bytes: int, deadline: float) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise OutboundTooLarge(
            f"{_host(url)} answered {int(length):,} bytes; the limit is {max_bytes:,}.", url=url
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        # read1 returns what has arrived (at most _CHUNK), so the deadline is checked between
        # receives even when a server sends one byte at a time.
        chunk = response.raw.read1(_CHUNK, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise OutboundTooLarge(
                f"{_host(url)} answered more than {max_bytes:,} bytes, the limit.", url=url
            )
        if time.monotonic() > deadline:
            raise OutboundTimeout(f"{_host(url)} took too long to answer.", url=url)
        chunks.append(chunk)
    return b"".join(chunks)


def outbound_get(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
) -> OutboundResponse:
    """GET ``url`` and return the whole answer, whatever its status.

    Preconditions: ``url`` is http(s). ``timeout`` (seconds; default
    ``FAIROSS_OUTBOUND_TIMEOUT_SECONDS``) bounds each connect and read and the whole call
    including redirects; ``max_bytes`` (default ``FAIROSS_OUTBOUND_MAX_BYTES``) bounds the body.
    Invariants: at most :data:`MAX_REDIRECTS` redirects, each to the same scheme, host and
    port as the first URL; nothing but GET is sent; no cookies are kept between calls.
    Raises :class:`OutboundError` (a subclass saying which rule) instead of any
    ``requests`` exception.
    """
    _check_url(url)
    if timeout is None:
        timeout = float(
            getattr(settings, "FAIROSS_OUTBOUND_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        )
    if max_bytes is None:
        max_bytes = int(getattr(settings, "FAIROSS_OUTBOUND_MAX_BYTES", DEFAULT_MAX_BYTES))
    deadline = time.monotonic() + timeout
    origin = _origin(url)
    sent_headers = {
        "User-Agent": f"FairOSS ownership check (+{getattr(settings, 'SITE_URL', '')})",
        "Accept-Encoding": "identity",
        **(headers or {}),
    }
    current = url
    with requests.Session() as session:
        session.trust_env = False  # no proxies or .netrc credentials from the environment
        for _ in range(MAX_REDIRECTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutboundTimeout(f"{_host(url)} took too long to answer.", url=url)
            try:
                response = session.get(
                    current,
                    headers=sent_headers,
                    timeout=(min(remaining, timeout), min(remaining, timeout)),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.Timeout:
                raise OutboundTimeout(f"{_host(url)} took too long to answer.", url=url) from None
            except requests.RequestException:
                raise OutboundUnreachable(f"{_host(url)} could not be reached.", url=url) from None
            with response:
                if response.is_redirect:
                    target = urljoin(current, response.headers.get("Location", ""))
                    if _origin(target) != origin:
                        raise OutboundRedirectRefused(
                            f"{_host(url)} redirected to another host ({_host(target)}); "
                            "FairOSS follows redirects only within the same host.",
                            url=url,
                        )
                    current = target
                    continue
                try:
                    body = _read_body(response, url=url, max_bytes=max_bytes, deadline=deadline)
                except (requests.Timeout, urllib3.exceptions.TimeoutError):
                    raise OutboundTimeout(
                        f"{_host(url)} took too long to answer.", url=url
                    ) from None
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
                    raise OutboundUnreachable(
                        f"{_host(url)} broke off its answer.", url=url
                    ) from None
                return OutboundResponse(
                    url=current,
                    status=response.status_code,
                    headers=dict(response.headers),
                    body=body,
                )
    raise OutboundRedirectRefused(
        f"{_host(url)} redirected more than {MAX_REDIRECTS} times.", url=url
    )
