"""``manage.py simulate``: the seeded whole-system money simulation (see README "Simulation").

    manage.py simulate --seed 7 --steps 300
    manage.py simulate --seeds 1..20 --steps 500      # a soak; last line is the summary
    manage.py simulate --seeds 1..200 --steps 500 --soak --jobs 2   # in 2 processes

Each seed runs in one database transaction that is rolled back, against a private local Stripe
server started on a free port; nothing is committed.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from devtools.simulation.bugs import BUGS
from devtools.simulation.parallel import run_parallel
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
        parser.add_argument(
            "--seed-list", default=None, help="seeds separated by commas (used by --jobs)"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="run the seeds in N processes, each on its own copy of the database",
        )
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
        given = [o for o in ("seed", "seeds", "seed_list") if options[o] is not None]
        if len(given) > 1:
            raise CommandError("give one of --seed, --seeds and --seed-list")
        if options["seeds"]:
            seeds = _seeds(options["seeds"])
        elif options["seed_list"]:
            try:
                seeds = [int(s) for s in options["seed_list"].split(",")]
            except ValueError:
                raise CommandError("--seed-list takes seeds separated by commas") from None
        else:
            seeds = [options["seed"] or 1]
        steps = int(options["steps"])
        if not 1 <= steps <= 100_000:
            raise CommandError("--steps must be from 1 to 100,000")
        jobs = int(options["jobs"])
        if not 1 <= jobs <= 32:
            raise CommandError("--jobs must be from 1 to 32")
        if jobs > 1 and len(seeds) > 1:
            self._parallel(seeds, steps, jobs, options)
            return
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
        self._summary(
            started=started, seeds=seeds, steps=total_steps, violations=violations, hashes=hashes
        )

    def _parallel(self, seeds: list[int], steps: int, jobs: int, options: Any) -> None:
        started = time.perf_counter()
        args = ["--steps", str(steps), "--soak"]
        args += ["--full-check-every", str(max(1, int(options["full_check_every"])))]
        if options["inject_bug"]:
            args += ["--inject-bug", options["inject_bug"]]
        try:
            results = run_parallel(seeds=seeds, jobs=jobs, args=args, echo=self.stdout.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        self._summary(
            started=started,
            seeds=seeds,
            steps=sum(r.steps for r in results),
            violations=sum(1 for r in results if r.violation),
            hashes=[r.ledger_hash for r in results],
        )

    def _summary(
        self, *, started: float, seeds: list[int], steps: int, violations: int, hashes: list[str]
    ) -> None:
        """The closing lines, alike in one process and in several; fails on any violation."""
        self.stdout.write(f"elapsed={time.perf_counter() - started:.1f}s")
        self.stdout.write(
            f"seeds={len(seeds)} steps={steps} violations={violations} "
            f"ledger_hash={combined_hash(hashes)}"
        )
        if violations:
            raise CommandError(f"{violations} seed(s) broke an invariant")
