"""Celery tasks of the projects app (thin: they call services). The webhook tasks are in
``projects/webhooks/tasks.py``; these send people's notifications
(:mod:`projects.notifications`)."""

from __future__ import annotations

from celery import shared_task

from .notifications import notification_deliver, notifications_unsent


@shared_task(acks_late=True, ignore_result=True)
def notifications_send_task(notification_ids: list[int]) -> int:
    """Send recorded notifications (each once; an unsent one is left for the sweep)."""
    return sum(notification_deliver(notification_id=i) for i in notification_ids)


@shared_task(acks_late=True, ignore_result=True)
def notifications_sweep() -> str:
    """The beat schedule's entry point (every 10 minutes): send what is still unsent."""
    due = notifications_unsent()
    sent = sum(notification_deliver(notification_id=i) for i in due)
    return f"{sent} of {len(due)} pending notifications sent"
