"""One seed's world: the simulated clock, the random generator and what exists so far.

Everything random comes from ``World.rng`` (``random.Random(seed)``); nothing depends on the
wall clock, database ids or set iteration order, so the same seed makes the same choices.
Objects are remembered by the names the simulation gave them (usernames, slugs, references)
or by their database rows, always read back in a fixed order.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .stripe_env import Control

START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
CURRENCIES = ("usd", "eur")
# Identities not yet on FairOSS that tables may name; people claim them later.
GITHUB_LOGINS = tuple(f"gh-dev{i}" for i in range(8))
EMAILS = tuple(f"dev{i}@sim.example.org" for i in range(6))
PURLS = tuple(f"pkg:pypi/simlib{i}" for i in range(6))


class Kill(Exception):
    """A simulated ``kill -9``: raised inside a stage so its transaction rolls back."""


@dataclass
class World:
    seed: int
    control: Control
    rng: random.Random = field(init=False)
    now: dt.datetime = START
    step: int = 0
    staff: Any = None
    ombudsman: Any = None
    ombudsman2: Any = None
    users: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    companies: list[str] = field(default_factory=list)
    wire_refs: list[tuple[str, int, str]] = field(default_factory=list)  # (company, amount, cur)
    log: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    baseline: dict[str, int] = field(default_factory=dict)  # max ids before the seed
    recomputed_runs: set[int] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)  # webhook events delivered once
    seen: dict[str, Any] = field(default_factory=dict)  # what the invariants already checked
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- generators ---------------------------------------------------------------------

    def next_name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick(self, items: list[Any] | tuple[Any, ...]) -> Any:
        return items[self.rng.randrange(len(items))] if items else None

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def amount(self) -> int:
        """A payment in cents: mostly modest, sometimes odd, sometimes large."""
        r = self.rng.random()
        if r < 0.1:
            return self.rng.randint(1, 99)
        if r < 0.8:
            return self.rng.randint(1_000, 60_000)
        return self.rng.randint(60_000, 2_000_000)

    def currency(self) -> str:
        return "usd" if self.rng.random() < 0.75 else "eur"

    def advance(self) -> None:
        """Move the simulated clock: minutes to a few days per step."""
        self.now += dt.timedelta(minutes=self.rng.choice((5, 30, 90, 240, 720, 1440, 4320)))

    def user(self, username: str) -> Any:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.get(username=username)
