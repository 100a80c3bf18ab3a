"""Payout runs and transfers: paying people's available balances to their connected accounts.

Money moves only through ledger_post; Stripe calls carry idempotency keys derived from payout
ids; rows are locked in a fixed order (payout run → account row → payout row).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from payouts import queue
from payouts.connect._common import _get, _stripe, recipient_of_user
from payouts.connect.accounts import payout_threshold_of
from payouts.connect.claims import claims_sweep
from payouts.holds import held_recipients
from payouts.ledger import Leg, accounts_get_or_create, ledger_post
from payouts.models import (
    Account,
    ConnectedAccount,
    LedgerTransaction,
    Payout,
    PayoutRun,
    StripeEvent,
    TaxForm,
)
from payouts.notifications import user_notify
from payouts.selectors import account_balance, paid_in_year, payout_candidates
from projects.notifications import PAYOUT_FAILED, PAYOUT_SENT

log = logging.getLogger(__name__)

RESUME_PENDING_AFTER = dt.timedelta(minutes=10)
FAIL_UNREACHABLE_AFTER = dt.timedelta(days=3)
# A run created but never started within this time lost its task (say, the process died right
# after the commit); the next start resumes it instead of waiting.
QUEUED_GRACE = dt.timedelta(minutes=5)
# Without PostgreSQL's advisory locks (the embedded SQLite default) a run is alive while its
# heartbeat, written as it works through the balances, is this recent.
HEARTBEAT_STALE = dt.timedelta(minutes=2)
# pg_try_advisory_lock(class, run id): held by the connection executing a payout run for as
# long as it works on it. PostgreSQL releases it when that connection ends, so a killed worker
# frees it at once: liveness is exact, not guessed from a clock.
_RUN_LOCK_CLASS = 64_061


class PayoutRunInProgress(Exception):
    """Another payout run is still running; payout runs never overlap."""

    def __init__(self, run: PayoutRun) -> None:
        super().__init__(f"payout run {run.pk} is still running")
        self.run = run


# --- payout runs --------------------------------------------------------------------------


def _run_lock_try(run_id: int) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RUN_LOCK_CLASS, run_id])
        return bool(cursor.fetchone()[0])


def _run_lock_release(run_id: int) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RUN_LOCK_CLASS, run_id])


def _heartbeat(run_id: int) -> None:
    if connection.vendor != "postgresql":
        PayoutRun.objects.filter(pk=run_id).update(
            summary={**(PayoutRun.objects.get(pk=run_id).summary or {}), "heartbeat": _now_iso()}
        )


def _now_iso() -> str:
    return timezone.now().isoformat()


def payout_run_alive(*, run: PayoutRun) -> bool:
    """True while some process is executing ``run`` (it holds the run's advisory lock; on
    databases without one, its heartbeat is recent)."""
    if connection.vendor != "postgresql":
        beat = (run.summary or {}).get("heartbeat")
        if not isinstance(beat, str):
            return False
        return timezone.now() - dt.datetime.fromisoformat(beat) < HEARTBEAT_STALE
    if _run_lock_try(run.pk):
        _run_lock_release(run.pk)
        return False
    return True


def payout_run_state(*, run: PayoutRun) -> str:
    """``"done"``/``"failed"``, ``"executing"`` (a live process works on it), ``"queued"``
    (created, never started, still within its grace) or ``"stopped"`` (its process died, or
    its task was lost: resumable)."""
    if run.status != PayoutRun.Status.RUNNING:
        return str(run.status)
    if payout_run_alive(run=run):
        return "executing"
    started = int((run.summary or {}).get("executions", 0)) > 0
    if not started and timezone.now() - run.created_at < QUEUED_GRACE:
        return "queued"
    return "stopped"


def payout_run_create(*, started_by: Any = None) -> PayoutRun:
    """A new running payout run; or the open one when it was stopped (its worker killed, its
    task lost), to be executed again, which continues where it stopped; or
    :class:`PayoutRunInProgress` while the open one is executing or queued.

    Invariant: never two open runs (partial unique index). Nothing waits for a clock: a
    killed run is known by its free advisory lock.
    """
    try:
        with transaction.atomic():
            return PayoutRun.objects.create(started_by=started_by)
    except IntegrityError:
        open_run = PayoutRun.objects.filter(is_open=True).first()
        if open_run is None:
            return payout_run_create(started_by=started_by)
        if payout_run_state(run=open_run) == "stopped":
            log.warning("payout run %s was stopped; resuming it", open_run.pk)
            return open_run
        raise PayoutRunInProgress(open_run) from None


def payout_run_start(*, started_by: Any = None) -> PayoutRun:
    """Create (or resume) a payout run and hand it to the task queue after commit."""
    run = payout_run_create(started_by=started_by)
    transaction.on_commit(lambda: queue.payout_run_enqueue.fn(run.pk))
    return run


def payout_run_resume(*, run: PayoutRun) -> PayoutRun:
    """Staff: execute a stopped run again; it continues where it stopped.

    Preconditions: the run is running and no process executes it (else ValidationError).
    Invariants: as :func:`payout_run_execute`: balances already paid out are gone from
    ``available``, payouts already created are pending (unique per person and currency) and
    are re-sent under their own idempotency keys, so nobody is paid twice.
    """
    run = PayoutRun.objects.get(pk=run.pk)
    if run.status != PayoutRun.Status.RUNNING:
        raise ValidationError({"status": f"Payout run {run.pk} is {run.status}, not running."})
    if payout_run_alive(run=run):
        raise ValidationError({"status": f"Payout run {run.pk} is executing right now."})
    return payout_run_execute(run_id=run.pk)


def payout_run_fail(*, run: PayoutRun, reason: str) -> PayoutRun:
    """Staff: close a stopped run as failed, its payouts safe.

    Preconditions: the run is running and no process executes it (else ValidationError).
    Invariants: no ledger transaction is written; each payout the run created stays as it is
    (pending ones keep their money in transit and are re-enqueued: their sends are idempotent
    by row lock and Stripe key), so none is lost or paid twice; a new run can start at once.
    """
    with transaction.atomic():
        locked = PayoutRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != PayoutRun.Status.RUNNING:
            raise ValidationError(
                {"status": f"Payout run {locked.pk} is {locked.status}, not running."}
            )
        if payout_run_alive(run=locked):
            raise ValidationError({"status": f"Payout run {locked.pk} is executing right now."})
        pending = list(
            Payout.objects.filter(run=locked, status=Payout.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        locked.status = PayoutRun.Status.FAILED
        locked.is_open = None
        locked.finished_at = timezone.now()
        locked.error = (reason or "marked failed by staff")[:2000]
        locked.summary = {**(locked.summary or {}), "pending_resent": len(pending)}
        locked.save(update_fields=["status", "is_open", "finished_at", "error", "summary"])
        for pk in pending:

            def send(pk: int = pk) -> None:
                queue.payout_send_enqueue.fn(pk)

            transaction.on_commit(send)
    return locked


def payout_run_execute(*, run_id: int) -> PayoutRun:
    """Pay out every available balance at or above its owner's threshold.

    Per person and currency, skipped (and counted in the run's summary) when: no connected
    account able to receive transfers, below the threshold, held (money rule 7), a tax form
    is needed, or a payout is already in flight. Sweeps claimed identities' escrow first and
    re-enqueues payouts left pending by lost tasks (and, when resuming, the run's own). Safe
    to run twice, concurrently or after a kill: the run's advisory lock lets one process
    execute it (another returns at once), a finished run does nothing, and payouts are unique
    per person and currency while pending, so a resumed run creates only the missing ones.
    """
    run = PayoutRun.objects.get(pk=run_id)
    if run.status != PayoutRun.Status.RUNNING or not _run_lock_try(run_id):
        return run
    try:
        return _payout_run_execute_locked(run_id)
    finally:
        _run_lock_release(run_id)


def _payout_run_execute_locked(run_id: int) -> PayoutRun:
    run = PayoutRun.objects.get(pk=run_id)
    if run.status != PayoutRun.Status.RUNNING:
        return run
    previous = run.summary or {}
    executions = int(previous.get("executions", 0)) + 1
    PayoutRun.objects.filter(pk=run_id).update(summary={**previous, "executions": executions})
    summary: dict[str, int] = defaultdict(int)
    summary["executions"] = executions
    try:
        summary["claims_swept"] = len(claims_sweep())
        summary["resumed"] = payouts_resume_stale(run_id=run_id if executions > 1 else None)
        held = held_recipients()
        for candidate in payout_candidates():
            _heartbeat(run_id)
            recipient = candidate["recipient"]
            account: ConnectedAccount | None = candidate["account"]
            if account is None or not account.can_receive:
                summary["skipped_no_account"] += 1
                continue
            if candidate["amount"] < payout_threshold_of(account=account):
                summary["skipped_threshold"] += 1
                continue
            if recipient in held:
                summary["skipped_held"] += 1
                continue
            payout, reason = payout_create(account=account, currency=candidate["currency"], run=run)
            if payout is None:
                summary[f"skipped_{reason}"] += 1
    except Exception as exc:
        log.exception("payout run %s failed", run_id)
        summary["created"] = Payout.objects.filter(run_id=run_id).count()
        PayoutRun.objects.filter(pk=run_id).update(
            status=PayoutRun.Status.FAILED,
            is_open=None,
            finished_at=timezone.now(),
            summary=dict(summary),
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    # Counted from the rows, so a resumed run also counts what it created before it stopped.
    summary["created"] = Payout.objects.filter(run_id=run_id).count()
    PayoutRun.objects.filter(pk=run_id).update(
        status=PayoutRun.Status.DONE,
        is_open=None,
        finished_at=timezone.now(),
        summary=dict(summary),
    )
    return PayoutRun.objects.get(pk=run_id)


def payouts_resume_stale(*, run_id: int | None = None) -> int:
    """Re-enqueue payouts still pending with no attempt for a while (a lost task), and every
    pending payout of ``run_id`` (a run resumed after its worker died: its sends may have been
    lost with it; sending again is safe, the row lock and the Stripe key make one transfer)."""
    cutoff = timezone.now() - RESUME_PENDING_AFTER
    stale = Q(created_at__lt=cutoff) & (
        Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff)
    )
    if run_id is not None:
        stale |= Q(run_id=run_id)
    ids = list(
        Payout.objects.filter(status=Payout.Status.PENDING)
        .filter(stale)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in ids:

        def send(pk: int = pk) -> None:
            queue.payout_send_enqueue.fn(pk)

        transaction.on_commit(send)
    return len(ids)


def tax_form_needed(*, user: Any, currency: str, amount: int, year: int | None = None) -> bool:
    """True when paying ``amount`` would take the year's payouts in ``currency`` above the
    configured threshold and no tax form (W-9 / W-8BEN) is recorded as collected."""
    year = year or timezone.now().year
    limit = settings.FAIROSS_TAX_FORM_THRESHOLD
    if paid_in_year(user=user, currency=currency, year=year) + amount <= limit:
        return False
    return not TaxForm.objects.filter(user=user, collected=True).exists()


def payout_create(
    *, account: ConnectedAccount, currency: str, run: PayoutRun | None = None
) -> tuple[Payout | None, str]:
    """Create the payout of the person's whole available balance in ``currency``.

    Preconditions: ``account`` can receive transfers (checked by the caller).
    Invariants: the row and the ledger transaction ``payout:<id>`` (available → in_transit)
    are written in one database transaction, under a lock of the person's available account,
    so the balance cannot be paid twice; at most one payout per person and currency is
    pending (unique constraint). The transfer is sent by a task enqueued on commit.
    Returns ``(payout, "")`` or ``(None, reason)``.
    """
    user = account.user
    recipient = recipient_of_user(user=user)
    key = (recipient, Account.Purpose.AVAILABLE, currency)
    try:
        with transaction.atomic():
            accounts_get_or_create(keys=[key])
            Account.objects.select_for_update().get(
                owner=recipient, purpose=Account.Purpose.AVAILABLE, currency=currency
            )
            amount = account_balance(
                owner=recipient, purpose=Account.Purpose.AVAILABLE, currency=currency
            )
            if amount < payout_threshold_of(account=account):
                return None, "threshold"
            if Payout.objects.filter(
                recipient=recipient, currency=currency, status=Payout.Status.PENDING
            ).exists():
                return None, "in_flight"
            if tax_form_needed(user=user, currency=currency, amount=amount):
                return None, "tax_form"
            now = timezone.now()
            payout = Payout.objects.create(
                user=user,
                recipient=recipient,
                run=run,
                destination=account.stripe_account_id,
                amount=amount,
                currency=currency,
                key_since=now,
            )
            payout.idempotency_key = f"faiross-payout-{payout.pk}"
            payout.save(update_fields=["idempotency_key"])
            ledger_post(
                idempotency_key=f"payout:{payout.pk}",
                kind=LedgerTransaction.Kind.PAYOUT,
                reference=f"payout:{payout.pk}",
                legs=[
                    Leg(recipient, Account.Purpose.AVAILABLE, currency, -amount),
                    Leg(recipient, Account.Purpose.IN_TRANSIT, currency, amount),
                ],
                memo=f"payout {payout.pk} to {account.stripe_account_id}",
            )
            transaction.on_commit(lambda: queue.payout_send_enqueue.fn(payout.pk))
    except IntegrityError:
        return None, "in_flight"
    return payout, ""


# --- sending one payout ---------------------------------------------------------------------


class SendResult:
    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    BUSY = "busy"
    MISSING = "missing"


def _transfer_lookup(client: Any, payout: Payout) -> Any:
    """The transfer made for ``payout``, found by its transfer group and metadata, or None."""
    page = client.v1.transfers.list(params={"transfer_group": payout.transfer_group, "limit": 100})
    for transfer in page.data:
        if str(_get(transfer, "metadata", "faiross_payout", default="")) == str(payout.pk):
            return transfer
    return None


def _transient(exc: Exception) -> bool:
    """Errors after which the outcome is unknown or a retry can succeed."""
    if isinstance(
        exc,
        stripe.RateLimitError
        | stripe.APIConnectionError
        | stripe.APIError
        | stripe.AuthenticationError
        | stripe.PermissionError,
    ):
        return True
    status = getattr(exc, "http_status", None)
    return status in (409, 429) or (isinstance(status, int) and status >= 500)


def payout_send(*, payout_id: int) -> str:
    """Send the payout's one Stripe transfer and record the outcome; returns a SendResult.

    Invariants (money rule 4): the payout row is locked for the whole attempt (a concurrent
    attempt returns BUSY); the transfer carries the row's idempotency key, ``transfer_group``
    ``payout-<id>`` and ``metadata.faiross_payout``, so a retry after a dropped connection gets
    the same transfer back. When the current key may have expired (Stripe keeps keys 24 h),
    the transfer is looked up first and, only when there is none, a new key derived from the
    row id is used. A refusal by Stripe fails the payout (money back to available, reason
    kept); a network error, 429 or 5xx leaves it pending for a retry (RETRY).
    """
    client = _stripe()
    with transaction.atomic():
        payout = Payout.objects.select_for_update(skip_locked=True).filter(pk=payout_id).first()
        if payout is None:
            exists = Payout.objects.filter(pk=payout_id).exists()
            return SendResult.BUSY if exists else SendResult.MISSING
        if payout.status != Payout.Status.PENDING:
            return payout.status
        now = timezone.now()
        payout.attempts += 1
        payout.last_attempt_at = now
        try:
            lookup_after = dt.timedelta(hours=settings.FAIROSS_PAYOUT_LOOKUP_AFTER_HOURS)
            if now - payout.key_since > lookup_after:
                found = _transfer_lookup(client, payout)
                if found is not None:
                    _payout_mark_sent(payout, found)
                    return SendResult.SENT
                payout.idempotency_key = f"faiross-payout-{payout.pk}-{payout.attempts}"
                payout.key_since = now
            transfer = client.v1.transfers.create(
                params={
                    "amount": payout.amount,
                    "currency": payout.currency,
                    "destination": payout.destination,
                    "transfer_group": payout.transfer_group,
                    "description": f"FairOSS payout {payout.pk}",
                    "metadata": {"faiross_payout": str(payout.pk), "recipient": payout.recipient},
                },
                options={"idempotency_key": payout.idempotency_key},
            )
        except stripe.StripeError as exc:
            message = f"{type(exc).__name__}: {getattr(exc, 'user_message', None) or exc}"
            payout.last_error = message[:2000]
            if _transient(exc):
                # Give up only when Stripe answered that it did nothing: after a timeout or
                # a 409 (this key is in use) the request may still be running at Stripe, so
                # a lookup cannot prove there is no transfer (found by the simulation, seed 5).
                in_flight = isinstance(exc, stripe.APIConnectionError) or (
                    getattr(exc, "http_status", None) == 409
                )
                if now - payout.created_at > FAIL_UNREACHABLE_AFTER and not in_flight:
                    try:
                        found = _transfer_lookup(client, payout)
                    except stripe.StripeError:
                        found = False
                    if found is None:
                        _payout_mark_failed(payout, f"Stripe could not be reached: {message}")
                        return SendResult.FAILED
                    if found:
                        _payout_mark_sent(payout, found)
                        return SendResult.SENT
                payout.save()
                return SendResult.RETRY
            # Stripe refused. Make sure nothing was transferred under an earlier key first.
            try:
                found = _transfer_lookup(client, payout)
            except stripe.StripeError as lookup_exc:
                payout.last_error = f"{message}; lookup failed: {lookup_exc}"[:2000]
                payout.save()
                return SendResult.RETRY
            if found is not None:
                _payout_mark_sent(payout, found)
                return SendResult.SENT
            _payout_mark_failed(payout, _failure_reason(exc))
            return SendResult.FAILED
        _payout_mark_sent(payout, transfer)
        return SendResult.SENT


def _failure_reason(exc: Exception) -> str:
    code = getattr(exc, "code", None) or ""
    text = getattr(exc, "user_message", None) or str(exc)
    if code == "insufficient_capabilities_for_transfer":
        return "Your Stripe account cannot receive transfers yet: finish its set-up on Get paid."
    if code == "balance_insufficient":
        return "FairOSS's Stripe balance was too low; the money is back and the next run retries."
    return f"Stripe refused the transfer ({code or type(exc).__name__}): {text}"[:2000]


# How a pending payout ends: its ledger kind, where the money in transit goes, the time field
# set, and the subject of the email (``payouts/email/payout_<status>.txt``).
_PAYOUT_ENDS = {
    Payout.Status.SENT: (
        LedgerTransaction.Kind.PAYOUT_CONFIRMED,
        Account.Purpose.PAID_OUT,
        "sent_at",
        "Your payout is on its way",
    ),
    Payout.Status.FAILED: (
        LedgerTransaction.Kind.PAYOUT_FAILED,
        Account.Purpose.AVAILABLE,
        "failed_at",
        "A payout failed",
    ),
}


def _payout_end(payout: Payout, status: Payout.Status, memo: str, **fields: str) -> None:
    """in_transit → paid_out (sent) or available (failed); the row takes ``status`` and
    ``fields`` and the person is mailed once (caller holds the row lock)."""
    kind, purpose, at_field, subject = _PAYOUT_ENDS[status]
    ledger_post(
        idempotency_key=f"payout:{payout.pk}:{status.value}",
        kind=kind,
        reference=f"payout:{payout.pk}",
        legs=[
            Leg(payout.recipient, Account.Purpose.IN_TRANSIT, payout.currency, -payout.amount),
            Leg(payout.recipient, purpose, payout.currency, payout.amount),
        ],
        memo=memo,
    )
    payout.status = status
    for name, value in {**fields, at_field: timezone.now()}.items():
        setattr(payout, name, value)
    payout.save()
    user_notify(
        key=f"payout:{payout.pk}:{status.value}",
        user=payout.user,
        kind=PAYOUT_SENT if status == Payout.Status.SENT else PAYOUT_FAILED,
        subject=subject,
        template=f"payouts/email/payout_{status.value}.txt",
        context={"payout": payout},
    )


def _payout_mark_sent(payout: Payout, transfer: Any) -> None:
    """in_transit → paid_out (caller holds the row lock; status is pending)."""
    transfer_id = str(_get(transfer, "id", default=""))
    if int(_get(transfer, "amount", default=payout.amount)) != payout.amount:
        log.error("payout %s: transfer %s has another amount", payout.pk, transfer_id)
    _payout_end(
        payout,
        Payout.Status.SENT,
        f"transfer {transfer_id}",
        stripe_transfer_id=transfer_id,
        last_error="",
    )


def _payout_mark_failed(payout: Payout, reason: str) -> None:
    """in_transit → available, with the reason (caller holds the row lock)."""
    _payout_end(payout, Payout.Status.FAILED, reason[:500], failure_reason=reason)


def payout_fail(*, payout: Payout, reason: str) -> Payout:
    """Staff: give up on a pending payout after checking Stripe has no transfer for it."""
    client = _stripe()
    with transaction.atomic():
        locked = Payout.objects.select_for_update().get(pk=payout.pk)
        if locked.status != Payout.Status.PENDING:
            raise ValidationError({"status": "Only a pending payout can be failed."})
        found = _transfer_lookup(client, locked)
        if found is not None:
            _payout_mark_sent(locked, found)
        else:
            _payout_mark_failed(locked, reason)
    return locked


def payout_transfer_event(*, transfer: Mapping[str, Any], reversed_event: bool) -> str:
    """A ``transfer.*`` webhook: confirms a pending payout (any order) and books reversals."""
    payout_id = str(_get(transfer, "metadata", "faiross_payout", default=""))
    if not payout_id.isdigit():
        return StripeEvent.Status.IGNORED
    with transaction.atomic():
        payout = Payout.objects.select_for_update().filter(pk=int(payout_id)).first()
        if payout is None:
            return StripeEvent.Status.IGNORED
        if payout.status == Payout.Status.PENDING:
            _payout_mark_sent(payout, transfer)
        if payout.status != Payout.Status.SENT:
            return StripeEvent.Status.PROCESSED
        reversed_total = int(_get(transfer, "amount_reversed", default=0) or 0)
        delta = min(reversed_total, payout.amount) - payout.amount_reversed
        if reversed_event and delta > 0:
            ledger_post(
                idempotency_key=f"payout:{payout.pk}:reversed:{reversed_total}",
                kind=LedgerTransaction.Kind.REVERSAL,
                reference=f"payout:{payout.pk}",
                legs=[
                    Leg(payout.recipient, Account.Purpose.PAID_OUT, payout.currency, -delta),
                    Leg(payout.recipient, Account.Purpose.AVAILABLE, payout.currency, delta),
                ],
                memo=f"transfer {payout.stripe_transfer_id} reversed",
            )
            payout.amount_reversed += delta
            payout.save(update_fields=["amount_reversed"])
    return StripeEvent.Status.PROCESSED
