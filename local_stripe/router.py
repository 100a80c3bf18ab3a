"""Routing API paths to handlers, and the context a handler works with.

:class:`Collection` registers the usual endpoints of one kind of stored object: retrieve, list
(with :func:`listing`'s filters) and delete.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import invalid_param
from .params import Params
from .store import PLATFORM, Store, public
from .webhooks import diff

if TYPE_CHECKING:
    from .app import App

Handler = Callable[..., dict[str, Any]]


@dataclass
class Context:
    """One API request as a handler sees it: who asks, on whose behalf, with what."""

    app: App
    params: Params
    account: str | None
    request_id: str
    idempotency_key: str | None
    base_url: str
    path: str

    @property
    def owner(self) -> str:
        """The owner key of objects this request reads and creates."""
        return self.account or PLATFORM

    @property
    def store(self) -> Store:
        """The server's state."""
        return self.app.store

    def now(self) -> int:
        """The server clock."""
        return self.app.clock.now()

    def emit(
        self,
        type_: str,
        obj: dict[str, Any],
        *,
        previous: dict[str, Any] | None = None,
        account: str | None = None,
    ) -> dict[str, Any]:
        """Record an event caused by this request (on the acting connected account, if any)."""
        return self.app.events.emit(
            type_,
            obj,
            account=account or self.account,
            previous=previous,
            request_id=self.request_id,
            idempotency_key=self.idempotency_key,
        )

    @contextmanager
    def updating(
        self, obj: dict[str, Any], event: str | None = None, *, account: str | None = None
    ) -> Iterator[None]:
        """Around changes to ``obj``: if the block changed anything, note it and send ``event``.

        The event carries the old values of what changed (Stripe's ``previous_attributes``).
        """
        before = copy.deepcopy(obj)
        yield
        changes = diff(before, obj)
        if changes:
            self.store.touch()
            if event:
                self.emit(event, obj, previous=changes, account=account)


@dataclass(frozen=True)
class Route:
    """A method and a path pattern such as ``/v1/transfers/{id}/reversals``."""

    method: str
    regex: re.Pattern[str]
    handler: Handler


ROUTES: list[Route] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler; ``{name}`` segments become keyword arguments."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, regex, handler))
        return handler

    return register


def match(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for a request and its path arguments, or None."""
    for candidate in ROUTES:
        if candidate.method == method:
            found = candidate.regex.match(path)
            if found:
                return candidate.handler, found.groupdict()
    return None


LIST_PARAMS = ("limit", "starting_after", "ending_before", "created")


def paginate(ctx: Context, items: list[dict[str, Any]], url: str) -> dict[str, Any]:
    """A Stripe list object over ``items`` (newest first) honouring limit and cursors."""
    params = ctx.params
    items = _filter_created(params, items)
    limit = params.integer("limit", default=10, minimum=1, maximum=100)
    assert limit is not None
    after = params.string("starting_after")
    before = params.string("ending_before")
    ids = [item["id"] for item in items]
    if after:
        if after not in ids:
            raise invalid_param("starting_after", f"No such object: '{after}'", "resource_missing")
        items = items[ids.index(after) + 1 :]
        page, has_more = items[:limit], len(items) > limit
    elif before:
        if before not in ids:
            raise invalid_param("ending_before", f"No such object: '{before}'", "resource_missing")
        items = items[: ids.index(before)]
        page, has_more = items[-limit:], len(items) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": [public(i) for i in page], "has_more": has_more, "url": url}


def _filter_created(params: Params, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stripe's ``created`` filter: an exact time or ``created[gte]`` and friends."""
    if not params.has("created"):
        return items
    if isinstance(params.data["created"], str):
        exact = params.integer("created")
        return [i for i in items if i["created"] == exact]
    bounds = params.obj("created")
    tests = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    for name, test in tests.items():
        bound = bounds.integer(name)
        if bound is not None:
            items = [i for i in items if test(i["created"], bound)]
    return items


def listing(
    ctx: Context,
    items: list[dict[str, Any]],
    url: str,
    *,
    filters: Iterable[str] = (),
    accepts: Iterable[str] = (),
) -> dict[str, Any]:
    """A list endpoint's answer: :func:`paginate` over ``items`` after the ``filters``.

    A filter keeps the objects whose field of the same name equals the value sent; ``accepts``
    names parameters that are known but ignored.
    """
    params = ctx.params
    params.only([*LIST_PARAMS, *filters, *accepts])
    for name in filters:
        wanted = params.string(name)
        if wanted:
            items = [i for i in items if i[name] == wanted]
    return paginate(ctx, items, url)


@dataclass(frozen=True)
class Collection:
    """The stored objects of one ``kind`` served under ``path`` (customers at ``/v1/customers``).

    They belong to the account a request acts for, or with ``owner`` to that owner whoever asks
    (accounts and webhook endpoints are the platform's). ``label`` names the kind in 404
    messages where Stripe does not derive it from ``kind``.
    """

    kind: str
    path: str
    owner: str | None = None
    label: str | None = None

    def get(self, ctx: Context, object_id: str, *, param: str = "id") -> dict[str, Any]:
        """One object, or Stripe's 404 naming ``param``."""
        owner = self.owner or ctx.owner
        return ctx.store.get(self.kind, object_id, owner, label=self.label, param=param)

    def retrieve_route(self) -> Collection:
        """Register ``GET {path}/{id}``: one object."""
        route("GET", self.path + "/{object_id}")(self._retrieve)
        return self

    def list_route(self, *, filters: Iterable[str] = (), accepts: Iterable[str] = ()) -> Collection:
        """Register ``GET {path}``: the objects, newest first (see :func:`listing`)."""
        filters, accepts = tuple(filters), tuple(accepts)

        def list_(ctx: Context) -> dict[str, Any]:
            items = ctx.store.all(self.kind, self.owner or ctx.owner)
            return listing(ctx, items, self.path, filters=filters, accepts=accepts)

        route("GET", self.path)(list_)
        return self

    def delete_route(self) -> Collection:
        """Register ``DELETE {path}/{id}``, which forgets one object."""
        route("DELETE", self.path + "/{object_id}")(self._delete)
        return self

    def _retrieve(self, ctx: Context, object_id: str) -> dict[str, Any]:
        return public(self.get(ctx, object_id))

    def _delete(self, ctx: Context, object_id: str) -> dict[str, Any]:
        self.get(ctx, object_id)
        ctx.store.remove(object_id)
        return {"id": object_id, "object": self.kind, "deleted": True}
