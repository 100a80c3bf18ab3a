"""The client's IP address, as far as FairOSS can trust it (kept with signature records).

``FAIROSS_TRUSTED_PROXY_COUNT`` (default 0) says how many reverse proxies stand in front of
FairOSS, each appending the address it was connected from to ``X-Forwarded-For``:

* 0: the address of the connection (``REMOTE_ADDR``) only. ``X-Forwarded-For`` is ignored,
  since anyone on the internet can send one.
* N: the address N hops from the right of ``X-Forwarded-For`` (N = 1: its last entry, the
  one the proxy itself appended). Entries further left were sent by the client and are not
  trusted. A request whose header has fewer than N entries gives ``REMOTE_ADDR``.

``FAIROSS_TRUSTED_PROXIES`` (optional) lists the proxies' addresses or networks, one per hop,
the one nearest the client first and the one connecting to FairOSS last; then the header is
used only when the connection and the hops in it match, so a request that bypassed the
proxies cannot choose its address. The resolution itself is python-ipware's (the engine of
django-ipware).
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from python_ipware import IpWare

_FORWARDED = "HTTP_X_FORWARDED_FOR"
_direct = IpWare(precedence=("REMOTE_ADDR",))


@lru_cache(maxsize=8)
def _forwarded_resolver(count: int, proxies: tuple[str, ...]) -> IpWare | None:
    if count < 0:
        raise ImproperlyConfigured("FAIROSS_TRUSTED_PROXY_COUNT must be 0 or more.")
    if proxies and count not in (0, len(proxies)):
        raise ImproperlyConfigured(
            "FAIROSS_TRUSTED_PROXIES must name one address or network per trusted proxy "
            f"({count}), or FAIROSS_TRUSTED_PROXY_COUNT must be 0."
        )
    hops = len(proxies) or count
    if not hops:
        return None
    try:
        # The chain handed to it is X-Forwarded-For plus REMOTE_ADDR, so its last ``hops``
        # entries are the proxies and the one before them is the client.
        return IpWare(precedence=(_FORWARDED,), proxy_count=hops, proxy_list=list(proxies) or None)
    except ValueError as exc:
        raise ImproperlyConfigured(f"FAIROSS_TRUSTED_PROXIES: {exc}") from exc


def client_ip(request: HttpRequest) -> str | None:
    """The client's address by the trusted-proxy settings (see the module), or None."""
    found, _ = _direct.get_client_ip(request.META)
    remote = str(found) if found is not None else None
    resolver = _forwarded_resolver(
        int(settings.FAIROSS_TRUSTED_PROXY_COUNT), tuple(settings.FAIROSS_TRUSTED_PROXIES)
    )
    if resolver is None or remote is None:
        return remote
    forwarded = str(request.META.get(_FORWARDED, "")).strip()
    chain = f"{forwarded}, {remote}" if forwarded else remote
    # Not strict: unparsable or extra entries on the left (the client's own) are skipped.
    ip, _ = resolver.get_client_ip({_FORWARDED: chain}, strict=False)
    return str(ip) if ip is not None else remote
