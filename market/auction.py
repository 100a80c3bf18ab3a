"""Allocating an offering's units: pure arithmetic, no database (property-tested).

A uniform-price (Dutch) auction: bids are sorted by price limit, highest first; the clearing
price is the limit of the bid at which the bids reach the units offered (the lowest accepted
limit); everyone accepted pays that one price; bids above it get every unit they asked for and
the bids exactly at it share what is left pro rata to the units they asked for, in whole units
by largest remainder (:func:`faiross.kernel.allocation.allocate`). When the bids do not reach
the units offered, every bid is filled and the price is the lowest limit bid.

A fixed-price offering never takes more commitments than it has units, so every commitment is
filled at the price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faiross.kernel.allocation import allocate


@dataclass(frozen=True)
class Bid:
    key: int
    units: int
    limit: int


@dataclass(frozen=True)
class AuctionResult:
    price: int
    units: dict[int, int]  # bid key -> units allocated (every bid present, 0 when none)

    @property
    def units_sold(self) -> int:
        return sum(self.units.values())


def auction_clear(*, bids: Sequence[Bid], supply: int, floor: int) -> AuctionResult:
    """Clear a uniform-price auction of ``supply`` units.

    Preconditions: ``supply > 0``; every bid has ``units > 0`` and ``limit >= floor > 0``.
    Invariants: ``units_sold == min(supply, sum of bid units)``; no bid gets more than it
    asked; every bid with a limit above the price is filled; no bid below the price gets
    anything; only bids at the price are cut, each to the floor or ceiling of its pro-rata
    share. With no bids the price is ``floor`` and nothing is sold.
    """
    if supply <= 0:
        raise ValueError("supply must be positive")
    for bid in bids:
        if bid.units <= 0 or bid.limit < floor:
            raise ValueError(f"bid {bid.key} is below the floor or has no units")
    out = {bid.key: 0 for bid in bids}
    if not bids:
        return AuctionResult(price=floor, units=out)
    demand = sum(b.units for b in bids)
    if demand <= supply:
        for bid in bids:
            out[bid.key] = bid.units
        return AuctionResult(price=min(b.limit for b in bids), units=out)
    limits = sorted({b.limit for b in bids}, reverse=True)
    above = 0
    for price in limits:
        at_price = [b for b in bids if b.limit == price]
        wanted = sum(b.units for b in at_price)
        if above + wanted >= supply:
            for bid in bids:
                if bid.limit > price:
                    out[bid.key] = bid.units
            parts = allocate(total=supply - above, weights=[b.units for b in at_price])
            for bid, part in zip(at_price, parts, strict=True):
                out[bid.key] = part
            return AuctionResult(price=price, units=out)
        above += wanted
    raise AssertionError("demand exceeds supply, so some price clears")  # pragma: no cover


def split_by_units(*, amount: int, holders: Sequence[tuple[int, int]]) -> dict[int, int]:
    """``amount`` minor units split over ``(holder, units)`` pro rata to units, largest
    remainder, in the order given (callers sort it for a deterministic tie rule).

    Invariant: the parts add up to ``amount`` exactly; a holder with 0 units gets 0."""
    parts = allocate(total=amount, weights=[u for _, u in holders])
    return {h: p for (h, _), p in zip(holders, parts, strict=True)}
