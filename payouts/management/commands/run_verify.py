"""Recompute a run from its snapshot and check what it published; exit 0 only when all holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payouts.distribution.publish import proof_check, run_verify
from payouts.management.runs import done_run_get
from payouts.models import DistributionRun, RunPublication


class Command(BaseCommand):
    help = (
        "Recompute a done run from its snapshot and check its allocations, snapshot hash, "
        "Merkle roots and flows (and, with --proof, an inclusion proof against the root)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, required=True, help="the run's id")
        parser.add_argument("--proof", type=Path, help="a proof JSON file to check as well")

    def handle(self, *args: Any, **options: Any) -> None:
        run = done_run_get(run_id=options["run"])
        problems = run_verify(run=run)
        proof_path: Path | None = options.get("proof")
        if proof_path is not None:
            problems += self._proof_problems(run, proof_path)
        for line in problems:
            self.stdout.write(f"FAIL {line}")
        if problems:
            raise CommandError(f"run {run.pk}: {len(problems)} check(s) failed")
        self.stdout.write(
            f"OK run {run.pk}: allocations recomputed from the snapshot, snapshot hash, "
            "Merkle roots and flows"
            + (" and the proof" if proof_path is not None else "")
            + " all check."
        )

    def _proof_problems(self, run: DistributionRun, path: Path) -> list[str]:
        try:
            proof = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path}: cannot read the proof: {exc}") from None
        if not isinstance(proof, dict):
            return [f"{path}: a proof is a JSON object"]
        if proof.get("run") != run.pk:
            return [f"{path}: the proof is for run {proof.get('run')}, not run {run.pk}"]
        publication = RunPublication.objects.get(run=run)
        root = publication.merkle_roots.get(str(proof.get("currency")))
        if root is None:
            return [f"{path}: run {run.pk} has no root in {proof.get('currency')!r}"]
        return [f"proof: {p}" for p in proof_check(proof=proof, root=root)]
