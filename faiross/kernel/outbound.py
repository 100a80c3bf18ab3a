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

import ipaddress
import json
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter

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


# --- POST to a user-supplied URL (outgoing webhooks, issue 12) ------------------------------


class OutboundAddressRefused(OutboundError):
    """The host resolves to an address FairOSS may not call (private, loopback, link-local…)."""


def address_allowed(address: str, *, allowed_networks: Sequence[str] = ()) -> bool:
    """Whether FairOSS may connect to ``address``: a public (global) address, or one inside
    ``allowed_networks`` (CIDRs, e.g. ``127.0.0.0/8`` for a local test receiver)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in ipaddress.ip_network(net, strict=False) for net in allowed_networks):
        return True
    return ip.is_global and not ip.is_multicast


def _guarded_adapter(*, host: str, allowed_networks: Sequence[str]) -> HTTPAdapter:
    """A transport that checks every address before connecting and the connected peer after
    (so a DNS answer that changes between the two cannot reach an internal address)."""

    def refuse(address: str) -> None:
        raise OutboundAddressRefused(
            f"{host} resolves to {address}, a private or local address; FairOSS sends only "
            "to public addresses.",
            url=host,
        )

    def checked(conn: Any, sock: socket.socket) -> socket.socket:
        peer = sock.getpeername()[0]
        if not address_allowed(peer, allowed_networks=allowed_networks):
            sock.close()
            refuse(peer)
        return sock

    def precheck(conn: Any) -> None:
        try:
            infos = socket.getaddrinfo(conn._dns_host, conn.port, type=socket.SOCK_STREAM)
        except OSError:
            return  # the connection itself reports the name error
        for info in infos:
            if not address_allowed(str(info[4][0]), allowed_networks=allowed_networks):
                refuse(str(info[4][0]))

    class GuardedHTTPConnection(urllib3.connection.HTTPConnection):
        def _new_conn(self) -> socket.socket:
            precheck(self)
            return checked(self, super()._new_conn())

    class GuardedHTTPSConnection(urllib3.connection.HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            precheck(self)
            return checked(self, super()._new_conn())

    class GuardedHTTPPool(urllib3.HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    adapter = HTTPAdapter(max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {  # type: ignore[attr-defined]
        "http": GuardedHTTPPool,
        "https": GuardedHTTPSPool,
    }
    return adapter


def outbound_post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    max_bytes: int = 64 * 1024,
    public_only: bool = True,
    allowed_networks: Sequence[str] = (),
) -> OutboundResponse:
    """POST ``body`` to ``url`` once and return the answer, whatever its status.

    For URLs people type in (webhook endpoints). Preconditions: ``url`` is http(s).
    Invariants: with ``public_only`` no connection is made to a private, loopback,
    link-local or otherwise non-global address unless it is in ``allowed_networks``
    (:class:`OutboundAddressRefused`); redirects are never followed (a 3xx is returned as
    the answer); the call takes at most ``timeout`` seconds; at most ``max_bytes`` of the
    answer are read and the rest is dropped (the answer is kept as an excerpt, not refused).
    Raises :class:`OutboundError` subclasses instead of any ``requests`` exception.
    """
    _check_url(url)
    if timeout is None:
        timeout = float(
            getattr(settings, "FAIROSS_OUTBOUND_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        )
    deadline = time.monotonic() + timeout
    sent_headers = {
        "User-Agent": f"FairOSS webhooks (+{getattr(settings, 'SITE_URL', '')})",
        "Accept-Encoding": "identity",
        **(headers or {}),
    }
    with requests.Session() as session:
        session.trust_env = False  # no proxies or .netrc credentials from the environment
        if public_only:
            guarded = _guarded_adapter(host=_host(url), allowed_networks=allowed_networks)
            session.mount("http://", guarded)
            session.mount("https://", guarded)
        try:
            response = session.post(
                url,
                data=body,
                headers=sent_headers,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            )
        except OutboundAddressRefused as exc:
            raise OutboundAddressRefused(str(exc), url=url) from None
        except requests.Timeout:
            raise OutboundTimeout(f"{_host(url)} took too long to answer.", url=url) from None
        except requests.RequestException as exc:
            if isinstance(exc.__context__, OutboundAddressRefused):
                raise OutboundAddressRefused(str(exc.__context__), url=url) from None
            raise OutboundUnreachable(f"{_host(url)} could not be reached.", url=url) from None
        with response:
            chunks: list[bytes] = []
            size = 0
            try:
                while size < max_bytes and time.monotonic() <= deadline:
                    chunk = response.raw.read1(min(_CHUNK, max_bytes - size), decode_content=True)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
                pass  # the status is the answer; a broken-off body stays an excerpt
            return OutboundResponse(
                url=url,
                status=response.status_code,
                headers=dict(response.headers),
                body=b"".join(chunks),
            )
