"""Whether a money owner that a higher app keeps (``company:<slug>``) exists.

Balances are public for projects and companies; answering 404 for an unknown company needs
the companies app, which registers its lookup at start-up.
"""

from __future__ import annotations

from typing import Protocol

from faiross.kernel.registry import Registry


class OwnerLookup(Protocol):
    def __call__(self, *, slug: str) -> bool: ...


owner_lookups: Registry[OwnerLookup] = Registry(
    "payouts.owner_lookups", required={"company": "companies"}
)


def owner_exists(*, owner_key: str) -> bool:
    kind, _, ident = owner_key.partition(":")
    return owner_lookups.get(kind)(slug=ident)
