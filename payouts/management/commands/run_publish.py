"""Publish a done distribution run (snapshot hash, Merkle roots, flows); idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from payouts.distribution.publish import run_publish
from payouts.management.runs import done_run_get


class Command(BaseCommand):
    help = (
        "Publish a done run done before publishing existed (or whose publication failed): "
        "its snapshot SHA-256, one Merkle root per currency and its project-level flows. "
        "A run already published is left as it is, so its roots never change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, required=True, help="the run's id")

    def handle(self, *args: Any, **options: Any) -> None:
        run = done_run_get(run_id=options["run"])
        publication = run_publish(run=run)
        self.stdout.write(f"run {run.pk}: snapshot_sha256 {publication.snapshot_sha256}")
        for currency, root in sorted(publication.merkle_roots.items()):
            leaves = publication.leaf_count.get(currency, 0)
            self.stdout.write(f"  {currency}: merkle root {root} ({leaves} lines)")
        self.stdout.write(f"  {run.flows.count()} flow rows")
