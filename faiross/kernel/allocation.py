"""The one pure function that splits an integer amount by integer weights.

Every split in FairOSS (cents over recipients, millibips over dependencies) goes through
:func:`allocate`, so rounding is the same everywhere: largest remainder (Hamilton's method),
ties broken by position, so that the parts always add up exactly to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence


def allocate(*, total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into ``len(weights)`` integer parts proportional to ``weights``.

    Preconditions: ``total >= 0``; every weight is a non-negative int; at least one weight is
    positive when ``total > 0``.
    Invariants: ``sum(result) == total``; each part is the floor or the ceiling of its exact
    share ``total * w / sum(weights)``; a zero weight gets zero; among equal remainders the
    earlier position gets the extra unit, so the result is deterministic for a given order.
    """
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError("total must be an int")
    if total < 0:
        raise ValueError("total must not be negative")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int):
            raise TypeError("weights must be ints")
        if w < 0:
            raise ValueError("weights must not be negative")
    denominator = sum(weights)
    if denominator == 0:
        if total == 0:
            return [0] * len(weights)
        raise ValueError("cannot split a positive total over weights that are all zero")
    parts = []
    remainders = []
    for index, w in enumerate(weights):
        quotient, remainder = divmod(total * w, denominator)
        parts.append(quotient)
        remainders.append((-remainder, index))
    left = total - sum(parts)
    # Sorting by (-remainder, index) gives the largest remainders first and, among equals,
    # the lowest index first: a fixed, order-based tie rule.
    for _, index in sorted(remainders)[:left]:
        parts[index] += 1
    return parts
