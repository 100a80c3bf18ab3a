"""Slots a lower app declares and a higher app fills at start-up (dependency inversion).

Apps depend one way (``projects`` ← ``payouts`` ← ``companies`` ← ``disputes``). Where a lower
app must reach a higher one (payouts must know who the ombudsman holds; a payment webhook must
reach the companies app's invoices), the lower app declares a :class:`Hook` or a
:class:`Registry`, and the higher app fills it in its ``AppConfig.ready``. The last installed
app (``faiross.apps.FairossConfig``) calls :func:`registries_verify`, so a slot left empty is an
``ImproperlyConfigured`` error at start-up, and calling an empty hook raises too: a missing
handler never means "nobody is held" or "no handler".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_declared: list[Hook[Any] | Registry[Any]] = []


class Hook(Generic[F]):
    """One function a higher app must provide; calling it before it is set raises."""

    def __init__(self, name: str, *, filled_by: str) -> None:
        self.name = name
        self.filled_by = filled_by
        self._fn: F | None = None
        _declared.append(self)

    def set(self, fn: F) -> None:
        if self._fn is not None and self._fn is not fn:
            raise ImproperlyConfigured(f"{self.name} was set twice ({self._fn!r} and {fn!r})")
        self._fn = fn

    @property
    def fn(self) -> F:
        if self._fn is None:
            raise ImproperlyConfigured(f"{self.name} is not set; {self.filled_by} must set it")
        return self._fn

    def missing(self) -> list[str]:
        return [] if self._fn is not None else [f"{self.name} (set by {self.filled_by})"]


class Registry(Generic[T]):
    """Values by key; ``required`` keys must all be registered by start-up."""

    def __init__(self, name: str, *, required: dict[str, str]) -> None:
        """``required`` maps each key that must be filled to the app that fills it."""
        self.name = name
        self.required = dict(required)
        self._items: dict[str, T] = {}
        _declared.append(self)

    def register(self, key: str, value: T) -> None:
        current = self._items.get(key)
        if current is not None and current is not value:
            raise ImproperlyConfigured(f"{self.name}[{key!r}] was registered twice")
        self._items[key] = value

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise ImproperlyConfigured(f"{self.name} has nothing registered for {key!r}") from None

    def find(self, key: str) -> T | None:
        return self._items.get(key)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(sorted(self._items.items()))

    def missing(self) -> list[str]:
        return [
            f"{self.name}[{key!r}] (registered by {app})"
            for key, app in self.required.items()
            if key not in self._items
        ]


def registries_verify() -> None:
    """Raise ``ImproperlyConfigured`` naming every declared slot that is still empty."""
    missing = [m for slot in _declared for m in slot.missing()]
    if missing:
        raise ImproperlyConfigured(
            "FairOSS cannot start: these registries are empty: " + "; ".join(missing)
        )
