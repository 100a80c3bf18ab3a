"""payout_send_task's retries: Celery's autoretry with exponential backoff and full jitter,
capped at one hour, up to FAIROSS_PAYOUT_MAX_RETRIES; in eager mode a short in-process loop."""

from __future__ import annotations

from typing import Any

import pytest
from celery.exceptions import Retry

from payouts import tasks

RETRY = tasks.transfers.SendResult.RETRY
SENT = tasks.transfers.SendResult.SENT


@pytest.fixture
def results(monkeypatch):
    """What each call of payout_send returns, in order (an exception is raised instead)."""
    queue: list[object] = []

    def payout_send(*, payout_id: int) -> object:
        result = queue.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(tasks.transfers, "payout_send", payout_send)
    return queue


@pytest.fixture
def enqueued(monkeypatch):
    """The retries the task sends to the broker (their options), instead of sending them."""
    sent: list[dict] = []
    task = tasks.payout_send_task._get_current_object()  # the task behind shared_task's proxy

    def apply_async(args=None, kwargs=None, **options):
        sent.append({"args": args, **options})

    monkeypatch.setattr(task, "apply_async", apply_async)
    return sent


def run_on_worker(retries: int, payout_id: int = 7):
    """Run the task body as a worker does (not eager), as its ``retries``-th retry."""
    task: Any = tasks.payout_send_task  # celery-types does not know push_request's context
    task.push_request(
        id="test-task", args=[payout_id], kwargs={}, retries=retries, is_eager=False,
        called_directly=False,
    )  # fmt: skip
    try:
        return task.run(payout_id)
    finally:
        task.pop_request()


def test_the_task_retries_exactly_the_transient_signal():
    task = tasks.payout_send_task
    assert task.autoretry_for == (tasks.PayoutSendTransient,)
    assert (task.retry_backoff, task.retry_backoff_max, task.retry_jitter) == (30, 3600, True)


@pytest.mark.parametrize("retries", [0, 1, 3, 7, 20])
def test_transient_failure_is_retried_with_capped_exponential_backoff(
    results, enqueued, settings, retries
):
    settings.FAIROSS_PAYOUT_MAX_RETRIES = 30
    bound = min(30 * 2**retries, 3600)
    delays = []
    for _ in range(20):
        results.append(RETRY)
        with pytest.raises(Retry) as caught:
            run_on_worker(retries)
        assert isinstance(caught.value.exc, tasks.PayoutSendTransient)
        delays.append(caught.value.when)
    assert all(0 <= delay <= bound for delay in delays)
    assert len(set(delays)) > 1  # jittered
    assert [e["countdown"] for e in enqueued] == delays
    assert {e["retries"] for e in enqueued} == {retries + 1}
    assert {tuple(e["args"]) for e in enqueued} == {(7,)}


def test_retries_stop_at_the_configured_limit(results, enqueued, settings):
    """The payout stays pending; the next payout run resumes it. The task does not fail."""
    settings.FAIROSS_PAYOUT_MAX_RETRIES = 3
    results.append(RETRY)
    with pytest.raises(Retry):
        run_on_worker(2)
    results.append(RETRY)
    assert run_on_worker(3) == "retry later (next payout run)"
    assert len(enqueued) == 1


def test_outcomes_and_other_errors_are_not_retried(results, enqueued):
    results.append(SENT)
    assert run_on_worker(0) == SENT
    results.append(RuntimeError("a bug, not Stripe"))
    with pytest.raises(RuntimeError):
        run_on_worker(0)
    assert enqueued == []


def test_eager_mode_retries_in_process(results, enqueued, settings):
    """Celery cannot delay an eager retry, so the task loops with a short sleep instead."""
    settings.FAIROSS_PAYOUT_MAX_RETRIES = 2
    results.extend([RETRY, RETRY, SENT])
    assert tasks.payout_send_task.apply(args=[7]).get() == SENT
    results.extend([RETRY, RETRY, RETRY, SENT])
    assert tasks.payout_send_task.apply(args=[7]).get() == RETRY  # the next run resumes it
    assert results == [SENT] and enqueued == []
