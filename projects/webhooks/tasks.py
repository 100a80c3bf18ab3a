"""Celery tasks for outgoing webhooks (thin: they call :mod:`.delivery`).

They live here rather than in ``projects/tasks.py`` so the package stays in one place; the
worker registers them because the app's start-up imports this module (``ProjectsConfig.ready``
→ ``services.tables`` → ``webhooks.emitters`` → ``webhooks.services`` → here).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from celery import current_app, shared_task
from django.db import connection

from .delivery import webhook_deliveries_due, webhook_delivery_attempt

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def webhook_delivery_task(self, delivery_id: int, manual: bool = False) -> str:  # type: ignore[no-untyped-def]
    """One attempt; a failure schedules the next attempt (countdown = the backoff) on the
    queue, and the sweep is the safety net when that message is lost."""
    outcome = webhook_delivery_attempt(delivery_id=delivery_id, manual=manual)
    if outcome.retry_in is not None and not self.request.is_eager:
        webhook_delivery_task.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(acks_late=True, ignore_result=True)
def webhook_deliveries_sweep() -> str:
    """The beat schedule's entry point (every minute): send the deliveries that are due."""
    due = webhook_deliveries_due()
    webhook_deliveries_enqueue(delivery_ids=due)
    return f"{len(due)} webhook deliveries due"


# --- handing deliveries to a sender ---------------------------------------------------------

_inline_senders: set[threading.Thread] = set()
_inline_lock = threading.Lock()


def _send_inline(delivery_ids: list[int], manual: bool) -> None:
    try:
        for delivery_id in delivery_ids:
            while True:
                outcome = webhook_delivery_attempt(delivery_id=delivery_id, manual=manual)
                if outcome.retry_in is None:
                    break
                time.sleep(outcome.retry_in)
    except Exception:
        log.exception("sending webhook deliveries %s in-process failed", delivery_ids)
    finally:
        connection.close()  # this thread's own connection
        with _inline_lock:
            _inline_senders.discard(threading.current_thread())


def webhook_deliveries_enqueue(*, delivery_ids: Iterable[int], manual: bool = False) -> None:
    """Hand deliveries to a sender; never raises and never waits for a receiver.

    With a Celery worker, one task per delivery. Without one (the embedded default, tests)
    tasks would run inside the request that caused the event, so a background thread of
    this process sends them instead, retries included (lost if the process stops; the
    delivery stays pending and the sweep or a replay sends it).
    """
    ids = list(delivery_ids)
    if not ids:
        return
    if current_app.conf.task_always_eager:
        thread = threading.Thread(
            target=_send_inline, args=(ids, manual), name="webhook-sender", daemon=True
        )
        with _inline_lock:
            _inline_senders.add(thread)
        thread.start()
        return
    for delivery_id in ids:
        try:
            webhook_delivery_task.delay(delivery_id, manual)
        except Exception:  # the broker is down: the delivery stays pending for the sweep
            log.exception("could not queue webhook delivery %s", delivery_id)


def webhook_inline_senders_wait(*, timeout: float = 30.0) -> bool:
    """Wait for the in-process senders to finish (tests, and a clean shutdown of the
    embedded default); whether all did."""
    deadline = time.monotonic() + timeout
    while True:
        with _inline_lock:
            pending = list(_inline_senders)
        if not pending:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        pending[0].join(remaining)
