"""The task queue, as the payouts operations see it (filled at start-up).

The Celery tasks (``payouts.tasks``) are thin: they call the operations. Some operations hand
work back to the queue once their transaction commits (a distribution run to execute, a payout
run, a payout to send), so the two would import each other. Instead the operations call these
hooks, and ``PayoutsConfig.ready`` fills them with the tasks at start-up; an empty hook is an
``ImproperlyConfigured`` error at start-up and when called, never a silently dropped task.
"""

from __future__ import annotations

from collections.abc import Callable

from faiross.kernel.registry import Hook

distribution_run_enqueue: Hook[Callable[[int], object]] = Hook(
    "payouts.queue.distribution_run_enqueue", filled_by="payouts.apps"
)
"""Execute the distribution run with this id (``payouts.tasks.distribution_run_task``)."""

payout_run_enqueue: Hook[Callable[[int], object]] = Hook(
    "payouts.queue.payout_run_enqueue", filled_by="payouts.apps"
)
"""Execute the payout run with this id (``payouts.tasks.payout_run_task``)."""

payout_send_enqueue: Hook[Callable[[int], object]] = Hook(
    "payouts.queue.payout_send_enqueue", filled_by="payouts.apps"
)
"""Send the payout with this id (``payouts.tasks.payout_send_task``)."""
