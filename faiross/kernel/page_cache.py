"""Whole-response cache for public pages seen by anonymous visitors (Django cache: Redis in
production).

What is cached: a ``GET``/``HEAD`` answered ``200`` to a request with no session cookie, no
messages cookie and no ``Authorization`` header, i.e. a visitor who is certainly anonymous and
has nothing personal waiting. Such a visitor sees only public data (money rule 9), so one copy
serves every anonymous visitor with the same scheme, host, path, query and language. Signed-in
people always get a freshly rendered page. The CSRF token in a cached page (the language form)
is replaced by a placeholder when stored and by the visitor's own token when served.

Invalidation: every key contains a site-wide version number, bumped after any committed save
or delete of a model that can show on a public page (:func:`page_cache_receivers_connect`,
called at start-up; :data:`IGNORED` lists the models that never do, such as sessions and
ledger postings) and by :func:`page_cache_bump` where data changes without model signals
(bulk writes, raw SQL). ``FAIROSS_PAGE_CACHE_SECONDS`` (default 60; 0 turns the cache off) bounds
the age of a page in any case, so totals and "so far" figures are at most that old.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token

VERSION_KEY = "page-cache:version"
_TOKEN_FIELD = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
_PLACEHOLDER = b"__faiross_csrf_token__"
_KEPT_HEADERS = ("Content-Type", "Content-Disposition", "Allow", "Content-Language", "Vary")

IGNORED: frozenset[str] = frozenset(
    {
        "sessions.session",
        "admin.logentry",
        "contenttypes.contenttype",
        "django_celery_beat.periodictask",
        "django_celery_beat.periodictasks",
        "django_celery_beat.crontabschedule",
        "django_celery_beat.intervalschedule",
        "payouts.posting",
        "payouts.ledgertransaction",
        "payouts.account",
        "payouts.runallocation",
        "payouts.webhookevent",
    }
)
"""Models (``app_label.model``) whose rows never show on a public page, or change only
together with one that bumps (a run's postings and allocations: the run itself bumps)."""
IGNORED_APPS: frozenset[str] = frozenset({"account", "mfa", "socialaccount", "usersessions"})


def page_cache_seconds() -> int:
    return int(getattr(settings, "FAIROSS_PAGE_CACHE_SECONDS", 60))


def page_cache_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        # add, not set: two processes starting at once agree on one version.
        cache.add(VERSION_KEY, 1, timeout=None)
        version = cache.get(VERSION_KEY, 1)
    return int(version)


def _bump_now() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet: every cached page is already unreachable
        cache.add(VERSION_KEY, 1, timeout=None)


def page_cache_bump() -> None:
    """Make every cached public page stale, now and again once the current transaction
    commits (a page rendered in between from the old data must not outlive the commit)."""
    _bump_now()
    transaction.on_commit(_bump_now)


def _watched(sender: Any) -> bool:
    meta = getattr(sender, "_meta", None)
    if meta is None:
        return False
    return meta.app_label not in IGNORED_APPS and meta.label_lower not in IGNORED


def _on_save(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if page_cache_seconds() <= 0 or not _watched(sender):
        return
    # A sign-in only stamps last_login: nothing public changed.
    if sender._meta.label_lower == "auth.user" and update_fields == frozenset({"last_login"}):
        return
    page_cache_bump()


def _on_change(sender: Any, **kwargs: Any) -> None:
    if page_cache_seconds() > 0 and _watched(sender):
        page_cache_bump()


def page_cache_receivers_connect() -> None:
    """Bump the version after a save or delete of any watched model (idempotent)."""
    post_save.connect(_on_save, dispatch_uid="faiross.page_cache.save")
    post_delete.connect(_on_change, dispatch_uid="faiross.page_cache.delete")
    m2m_changed.connect(_on_change, dispatch_uid="faiross.page_cache.m2m")


def _anonymous(request: HttpRequest) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and getattr(settings, "MESSAGE_COOKIE_NAME", "messages") not in request.COOKIES
        and "HTTP_AUTHORIZATION" not in request.META
    )


def _key(request: HttpRequest) -> str:
    language = getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)
    # Accept: the API answers JSON or its browsable HTML by it.
    accept = request.META.get("HTTP_ACCEPT", "")
    where = f"{request.scheme}://{request.get_host()}{request.get_full_path()}|{language}|{accept}"
    digest = hashlib.sha256(where.encode()).hexdigest()
    return f"page:{page_cache_version()}:{digest}"


def _storable(response: HttpResponse) -> dict[str, Any] | None:
    if response.status_code != 200 or response.streaming or response.cookies:
        return None
    cache_control = response.get("Cache-Control", "")
    if "private" in cache_control or "no-store" in cache_control:
        return None
    return {
        "content": _TOKEN_FIELD.sub(rb"\1" + _PLACEHOLDER + rb"\2", response.content),
        "headers": {h: response[h] for h in _KEPT_HEADERS if h in response},
    }


def _served(stored: dict[str, Any], request: HttpRequest) -> HttpResponse:
    content: bytes = stored["content"]
    if _PLACEHOLDER in content:
        content = content.replace(_PLACEHOLDER, get_token(request).encode())
    response = HttpResponse(content)
    for header, value in stored["headers"].items():
        response[header] = value
    return response


def public_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Serve ``view``'s answer to anonymous visitors from the cache (see the module docstring).

    Only for views whose answer to an anonymous visitor depends on nothing but the URL, the
    language and data whose changes bump the version."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        seconds = page_cache_seconds()
        if seconds <= 0 or not _anonymous(request):
            return view(request, *args, **kwargs)
        key = _key(request)
        stored = cache.get(key)
        if stored is not None:
            return _served(stored, request)
        response = view(request, *args, **kwargs)
        render = getattr(response, "render", None)
        if render is not None and not getattr(response, "is_rendered", True):
            response = render() or response
        if (data := _storable(response)) is not None:
            cache.set(key, data, seconds)
        return response

    return wrapped
