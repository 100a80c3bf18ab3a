"""``manage.py simulate``: the seeded whole-system money simulation (see README "Simulation").

    manage.py simulate --seed 7 --steps 300
    manage.py simulate --seeds 1..20 --steps 500      # a soak; last line is the summary

Each seed runs in one database transaction that is rolled back, against a private local Stripe
server started on a free port; nothing is committed.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from devtools.simulation.bugs import BUGS
from devtools.simulation.runner import combined_hash, run_seed, stripe_server


def _seeds(text: str) -> list[int]:
    first, sep, last = text.partition("..")
    try:
        a, b = int(first), int(last if sep else first)
    except ValueError:
        raise CommandError("--seeds takes A..B, e.g. 1..20") from None
    if b < a or b - a >= 100_000:
        raise CommandError("--seeds: B must be at least A (and at most 100,000 seeds)")
    return list(range(a, b + 1))


class Command(BaseCommand):
    help = "Run the seeded money simulation; check every invariant after every step."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--seeds", default=None, help="a range A..B (soak)")
        parser.add_argument("--steps", type=int, default=200)
        parser.add_argument("--soak", action="store_true", help="only the per-seed summaries")
        parser.add_argument("--log", action="store_true", help="print the operation log")
        parser.add_argument(
            "--full-check-every",
            type=int,
            default=25,
            help="run ledger_check's own checks every N steps (the others run every step)",
        )
        parser.add_argument(
            "--inject-bug", default="", choices=["", *sorted(BUGS)], help="for tests only"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["seeds"] and options["seed"] is not None:
            raise CommandError("give --seed or --seeds, not both")
        seeds = _seeds(options["seeds"]) if options["seeds"] else [options["seed"] or 1]
        steps = int(options["steps"])
        if not 1 <= steps <= 100_000:
            raise CommandError("--steps must be from 1 to 100,000")
        started = time.perf_counter()
        total_steps = violations = 0
        hashes: list[str] = []
        with stripe_server() as control:
            for seed in seeds:
                result = run_seed(
                    seed=seed,
                    steps=steps,
                    control=control,
                    inject_bug=options["inject_bug"],
                    full_check_every=max(1, int(options["full_check_every"])),
                )
                total_steps += result.steps
                hashes.append(result.ledger_hash)
                if options["log"]:
                    for line in result.log:
                        self.stdout.write(line)
                ok = sum(v for k, v in result.outcomes.items() if k.endswith(":ok"))
                refused = sum(v for k, v in result.outcomes.items() if k.endswith(":refused"))
                self.stdout.write(
                    f"seed={seed} steps={result.steps} ok={ok} refused={refused} "
                    f"seconds={result.seconds:.1f} ledger_hash={result.ledger_hash}"
                )
                if result.violation:
                    violations += 1
                    self.stdout.write(
                        f"VIOLATION seed={seed} step={result.violation_step}: {result.violation}"
                    )
                    self.stdout.write(f"reproduce: {result.repro()}")
                if not options["soak"] and not options["log"] and len(seeds) == 1:
                    for key, count in sorted(result.outcomes.items()):
                        self.stdout.write(f"  {key} {count}")
        self.stdout.write(f"elapsed={time.perf_counter() - started:.1f}s")
        self.stdout.write(
            f"seeds={len(seeds)} steps={total_steps} violations={violations} "
            f"ledger_hash={combined_hash(hashes)}"
        )
        if violations:
            raise CommandError(f"{violations} seed(s) broke an invariant")
