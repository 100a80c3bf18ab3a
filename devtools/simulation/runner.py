"""The simulation loop: one seed in one database transaction, rolled back at the end.

Per seed: reset the local Stripe server, freeze ``timezone.now`` at the simulated clock, create
staff, then for each step advance the clock, draw one operation from ``world.rng``, run it in
a savepoint (an expected refusal is an outcome; any other exception is a crash, reported as a
violation: the product must never answer a 500) and check every invariant. The first
violation stops the seed. Afterwards the whole transaction is rolled back, so seeds do not see
each other and the database is left as it was (sequences excepted: PostgreSQL does not roll
them back, which is why the ledger hash canonicalises ids).
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.test.utils import override_settings

from . import invariants, operations
from .bugs import BUGS
from .stripe_env import SECRET_KEY, Control, start_server
from .world import World


@dataclass
class SeedResult:
    seed: int
    steps: int  # steps run (the violating step included)
    violation: str = ""
    violation_step: int = 0
    ledger_hash: str = ""
    log: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def repro(self, steps: int | None = None) -> str:
        return f"manage.py simulate --seed {self.seed} --steps {steps or self.violation_step}"


EXPECTED: tuple[type[BaseException], ...] = (
    ValidationError,
    PermissionDenied,
    *operations.EXPECTED_ERRORS,
)


class _Rollback(Exception):
    pass


def _settings(server_url: str) -> Any:
    return override_settings(
        STRIPE_API_BASE=server_url,
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_WEBHOOK_SECRET="whsec_simulation",
        STRIPE_RATE_LIMIT=0,
        STRIPE_TIMEOUT_SECONDS=1,
        FAIROSS_PAYOUT_THRESHOLD_MIN=50,
        FAIROSS_PAYOUT_THRESHOLD_DEFAULT=1000,
        FAIROSS_ESCROW_RETURN_DAYS=30,
        FAIROSS_TAX_FORM_THRESHOLD=300_000,
        FAIROSS_DISPUTE_FILINGS_PER_HOUR=1000,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        # Evidence files: storage is not transactional, and every seed is rolled back.
        STORAGES={
            **settings.STORAGES,
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        },
    )


@contextmanager
def stripe_server() -> Iterator[Control]:
    """A private local Stripe server for the whole command, Django pointed at it."""
    server = start_server()
    try:
        with _settings(server.url):
            yield Control(server.url, server.app)
    finally:
        server.stop()


def _no_retry_sleep() -> Any:
    """The stripe library's retry back-off, without the wall-clock sleep (and its jitter)."""
    import stripe._http_client as http_client

    return mock.patch.object(http_client.HTTPClient, "_sleep_time_seconds", lambda *a, **k: 0.0)


def _baseline() -> dict[str, int]:
    from django.db.models import Max

    from disputes.models import Dispute, Hold
    from payouts.models import LedgerTransaction, Payout

    def top(model: Any) -> int:
        return int(model.objects.aggregate(m=Max("pk"))["m"] or 0)

    return {
        "txn": top(LedgerTransaction),
        "payout": top(Payout),
        "hold": top(Hold),
        "dispute": top(Dispute),
    }


def _draw(world: World) -> Callable[[World], str]:
    ops = operations.OPERATIONS
    total = sum(w for _, w in ops)
    r = world.rng.randrange(total)
    for op, weight in ops:
        if r < weight:
            return op
        r -= weight
    raise AssertionError("unreachable")


def run_seed(
    *,
    seed: int,
    steps: int,
    control: Control,
    inject_bug: str = "",
    full_check_every: int = 25,
    progress: Callable[[str], None] | None = None,
) -> SeedResult:
    """Run one seed for ``steps`` steps (fewer when a violation stops it)."""
    result = SeedResult(seed=seed, steps=0)
    started = time.perf_counter()
    control.reset()
    world = World(seed=seed, control=control)
    quiet = [logging.getLogger(n) for n in ("stripe", "payouts", "companies", "django.request")]
    levels = [q.level for q in quiet]
    with ExitStack() as stack:
        for q in quiet:
            q.setLevel(logging.CRITICAL)
        for q, lv in zip(quiet, levels, strict=True):
            stack.callback(q.setLevel, lv)
        stack.enter_context(mock.patch("django.utils.timezone.now", lambda: world.now))
        if control.app is not None:
            # The server's clock is the simulated clock too: Checkout sessions, account links
            # and idempotency keys expire as simulated days pass, and events made in one
            # step share their second (so which account update is newer is reproducible).
            stack.enter_context(
                mock.patch.object(control.app.clock, "now", lambda: int(world.now.timestamp()))
            )
        stack.enter_context(_no_retry_sleep())
        if inject_bug:
            stack.enter_context(BUGS[inject_bug]())
        try:
            with transaction.atomic():
                world.baseline = _baseline()
                operations.setup_staff(world)
                problems = invariants.check_all(world, full=True)
                if problems:
                    result.violation = "before step 1 (the database already breaks it): " + (
                        "; ".join(problems)
                    )
                    raise _Rollback
                for step in range(1, steps + 1):
                    world.step = step
                    world.advance()
                    op = _draw(world)
                    line, problems = _run_op(world, op)
                    world.log.append(f"{step} {op.__name__}: {line}")
                    result.steps = step
                    full = step % full_check_every == 0 or step == steps
                    problems += invariants.check_all(world, full=full)
                    if problems:
                        result.violation = "; ".join(problems)
                        result.violation_step = step
                        break
                    if progress and step % 100 == 0:
                        progress(f"seed {seed}: step {step}")
                result.ledger_hash = invariants.ledger_hash(world)
                raise _Rollback
        except _Rollback:
            pass
    result.log = world.log
    result.outcomes = world.outcomes
    result.seconds = time.perf_counter() - started
    return result


def _run_op(world: World, op: Callable[[World], str]) -> tuple[str, list[str]]:
    """Run one operation in a savepoint; returns (log line, crash violations)."""
    name = op.__name__
    saved = (list(world.users), list(world.projects), list(world.companies), list(world.wire_refs))
    try:
        return _run_op_inner(world, op, name)
    finally:
        if world.outcomes.get("_failed"):
            # The savepoint rolled back: forget what the operation had created.
            world.users, world.projects, world.companies, world.wire_refs = saved
            del world.outcomes["_failed"]


def _run_op_inner(world: World, op: Callable[[World], str], name: str) -> tuple[str, list[str]]:
    try:
        with transaction.atomic():
            line = op(world)
        world.outcomes[f"{name}:ok"] += 1
        return line, []
    except EXPECTED as exc:
        world.outcomes[f"{name}:refused"] += 1
        world.outcomes["_failed"] = 1
        fields = (
            sorted(exc.message_dict)
            if isinstance(exc, ValidationError) and hasattr(exc, "error_dict")
            else []
        )
        return f"refused {type(exc).__name__}{fields if fields else ''}", []
    except Exception as exc:  # a crash: the product would answer 500
        world.outcomes[f"{name}:crash"] += 1
        world.outcomes["_failed"] = 1
        tb = traceback.format_exc(limit=-6)
        return f"CRASH {type(exc).__name__}", [f"{name} crashed: {exc!r}\n{tb}"]


def combined_hash(hashes: list[str]) -> str:
    """One hash for several seeds: SHA-256 over the per-seed hashes, in seed order."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()
