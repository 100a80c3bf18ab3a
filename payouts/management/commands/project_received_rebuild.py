"""Count every done, published run into the explore page's per-project received totals again
(after deploying them, or after ``run_publish`` published older runs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from payouts.totals import project_received_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the per-project received totals (explore's 'received' filter and sort) from "
        "every done, published run."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counted = project_received_rebuild()
        self.stdout.write(f"runs counted: {counted}")
