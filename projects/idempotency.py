"""``Idempotency-Key`` for the API's creates: a retried request gets the first answer.

A script that sends ``POST /api/v1/inflows/`` and loses the connection cannot know whether
the money was recorded. With an ``Idempotency-Key: <any unique string>`` header it can simply
send the same request again:

- the first request with a key is carried out and, when it succeeds (2xx), its status and
  JSON body are kept (:class:`projects.models.IdempotencyRecord`, per user, key, method and
  path);
- the same key with the same body answers that kept response again (header
  ``Idempotent-Replayed: true``), without doing anything;
- the same key with another body answers 422: a key names one request, never two;
- while the first request is still being carried out, the same key answers 409 (with
  ``Retry-After``);
- a request that fails (4xx, 5xx, an exception) keeps nothing, so it can be corrected and
  sent again with the same key.

A key whose first request never finished (a killed worker) is taken over after
:data:`STALE_AFTER`; creates stay safe then because they are idempotent themselves (inflows
by reference) or refuse duplicates (agreement events).

Use :func:`idempotent` on a DRF view's ``post`` (or a viewset's ``create``). Requests without
the header, or by anonymous callers (no create allows them), pass through untouched.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
STALE_AFTER = dt.timedelta(minutes=10)
REPLAYED_HEADER = "Idempotent-Replayed"

_View = TypeVar("_View", bound=Callable[..., Response])

# How the OpenAPI schema (/api/schema/) documents the header on every operation that takes it.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Optional, 1 to {MAX_KEY_LENGTH} printable characters (e.g. a UUID). Sending the same "
        "request again with the same key answers the first success again (header "
        f"`{REPLAYED_HEADER}: true`) without doing it twice; the same key with another body "
        "is a 422, and a 409 with `Retry-After` while the first is still being carried out. "
        "Failed requests keep nothing, so a corrected request may reuse the key."
    ),
)


def _canonical(value: Any) -> Any:
    """``value`` (parsed request data) as plain JSON-able data, files by their digest.
    ``request.FILES`` is a MultiValueDict (a QueryDict's base): left as it is, the JSON
    encoder would iterate its files and leave them read to the end for the view."""
    if isinstance(value, MultiValueDict):
        return {key: [_canonical(v) for v in values] for key, values in sorted(value.lists())}
    if hasattr(value, "read") and hasattr(value, "seek"):
        value.seek(0)
        digest = hashlib.sha256(value.read()).hexdigest()
        value.seek(0)
        return {"file": getattr(value, "name", ""), "sha256": digest}
    return value


def request_fingerprint(request: Request) -> str:
    """The SHA-256 of the request's parsed body (JSON keys in order; uploaded files by their
    content), so the same request sent twice has the same fingerprint however it is spaced."""
    payload = {"data": _canonical(request.data), "files": _canonical(request.FILES)}
    if not request.FILES:
        payload.pop("files")
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=JSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


def _key_problem(key: str) -> str | None:
    if not key.strip() or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return f"Give a key of 1 to {MAX_KEY_LENGTH} printable characters, e.g. a UUID."
    return None


def _refusal(status_code: int, message: str, **headers: str) -> Response:
    return Response({HEADER: [message]}, status=status_code, headers=headers or None)


def idempotency_begin(
    *, user: AbstractBaseUser, key: str, method: str, path: str, request_hash: str
) -> IdempotencyRecord | Response:
    """Claim ``key`` for this request, or the answer to give instead of carrying it out.

    Returns the new in-progress record (the caller carries the request out, then calls
    :func:`idempotency_finish` or :func:`idempotency_release`), or a response: the kept
    answer (same body), 422 (another body), 409 (the first is still in progress).
    Invariant: at most one request per (user, key, method, path) is carried out at a time
    (the unique constraint; the in-progress row is committed before the work starts).
    """
    scope = {"user": user, "key": key, "method": method, "path": path}
    for _ in range(3):  # a first request that failed meanwhile frees the key: claim again
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(**scope, request_hash=request_hash)
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(**scope).first()
        if existing is None:
            continue
        if existing.request_hash != request_hash:
            return _refusal(
                422,
                "This key was already used for a different request; use a new key for a new "
                "request.",
            )
        if existing.status_code is not None:
            return Response(
                existing.response_body,
                status=existing.status_code,
                headers={REPLAYED_HEADER: "true"},
            )
        if existing.created_at < timezone.now() - STALE_AFTER:
            # The first request never finished (its worker died): this one carries it out.
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, status_code__isnull=True, created_at=existing.created_at
            ).update(created_at=timezone.now())
            if taken:
                existing.refresh_from_db()
                return existing
        return _refusal(
            409,
            "A request with this key is still being carried out; send it again in a moment.",
            **{"Retry-After": "1"},
        )
    return _refusal(409, "This key is in use by requests that keep failing; try again.")


def idempotency_finish(*, record: IdempotencyRecord, response: Response) -> None:
    """Keep ``response`` (a success) as the answer of ``record``'s key."""
    body = json.loads(json.dumps(response.data, cls=JSONEncoder))
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=response.status_code, response_body=body
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Free ``record``'s key: its request failed and changed nothing, so it may be sent
    again (corrected) with the same key."""
    IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def idempotent(view: _View) -> _View:
    """Decorate a DRF view method (``post(self, request, ...)``) with the module's rules; the
    schema lists the ``Idempotency-Key`` header for it (an ``@extend_schema`` above adds its
    own request and responses to that)."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None or not request.user.is_authenticated:
            return view(self, request, *args, **kwargs)
        problem = _key_problem(key)
        if problem:
            return _refusal(400, problem)
        claim = idempotency_begin(
            user=request.user,
            key=key,
            method=request.method or "POST",
            path=request.path[:500],
            request_hash=request_fingerprint(request),
        )
        if isinstance(claim, Response):
            return claim
        try:
            response = view(self, request, *args, **kwargs)
        except BaseException:
            idempotency_release(record=claim)
            raise
        if 200 <= response.status_code < 300:
            idempotency_finish(record=claim, response=response)
        else:
            idempotency_release(record=claim)
        return response

    # functools.wraps copies the view's attributes; drf-spectacular keeps its annotation in
    # the ``kwargs`` dict, so the wrapper gets a copy of its own to extend.
    if isinstance(getattr(wrapper, "kwargs", None), dict):
        wrapper.kwargs = dict(wrapper.kwargs)  # type: ignore[attr-defined]
    return extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper)  # type: ignore[return-value]
