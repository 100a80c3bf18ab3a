"""Operations of the money path: inflows, distribution runs (see payouts.runs), balances."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from faiross.kernel.allocation import allocate
from projects.models import TableEntry

from faiross.kernel.money import MAX_AMOUNT, amount_clean, currency_clean

from .holds import held_recipients, recipient_is_held
from .ledger import PLATFORM, Leg, accounts_get_or_create, ledger_post
from .models import (
    Account,
    ClaimedIdentity,
    ConnectedAccount,
    DistributionRun,
    Inflow,
    LedgerTransaction,
    Notification,
    Payout,
    PayoutRun,
    Posting,
    StripeEvent,
)
from .webhook_handlers import handler_for


class InflowSource(Protocol):
    """Whom money is received for: a company (the companies app's model)."""

    pk: Any
    name: str

    @property
    def owner_key(self) -> str: ...


@transaction.atomic
def inflow_record(
    *,
    company: InflowSource,
    amount: int,
    currency: str,
    reference: str,
    source: str = Inflow.Source.WIRE,
    received_at: dt.datetime | None = None,
    recorded_by: User | None = None,
) -> tuple[Inflow, bool]:
    """Record money received for ``company``; returns ``(inflow, created)``.

    Idempotent by ``reference``: the same reference with the same amount and currency returns
    the first inflow; with different terms it is refused. Posts
    ``company:<slug>/contributed -amount, platform/pool +amount`` in one ledger transaction.
    """
    amount = amount_clean(amount=amount)
    currency = currency_clean(currency=currency)
    reference = (reference or "").strip()
    if not reference or len(reference) > 200:
        raise ValidationError({"reference": "Give the payment's reference (1 to 200 characters)."})
    existing = Inflow.objects.filter(reference=reference).first()
    if existing is not None:
        if (existing.company_id, existing.amount, existing.currency) != (
            company.pk,
            amount,
            currency,
        ):
            raise ValidationError(
                {"reference": f"The reference '{reference}' was already used for another inflow."}
            )
        return existing, False
    txn, _ = ledger_post(
        idempotency_key=f"inflow:{reference}",
        kind=LedgerTransaction.Kind.INFLOW,
        reference=f"inflow:{reference}",
        legs=[
            Leg(company.owner_key, Account.Purpose.CONTRIBUTED, currency, -amount),
            Leg(PLATFORM, Account.Purpose.POOL, currency, amount),
        ],
        memo=f"{source} from {company.name}",
    )
    try:
        with transaction.atomic():
            inflow = Inflow.objects.create(
                company_id=company.pk,
                amount=amount,
                currency=currency,
                reference=reference,
                source=source,
                received_at=received_at or timezone.now(),
                recorded_by=recorded_by,
                ledger_transaction=txn,
            )
    except IntegrityError:
        return Inflow.objects.get(reference=reference), False
    return inflow, True


# =============================================================================================
# Payouts (issue 6): Stripe Connect accounts, payout runs, transfers, claims, escrow returns,
# webhooks. Money moves only through ledger_post; Stripe calls carry idempotency keys derived
# from payout ids; rows are locked in a fixed order (payout run → account row → payout row).
# =============================================================================================

log = logging.getLogger(__name__)

STALE_RUN = dt.timedelta(hours=1)
RESUME_PENDING_AFTER = dt.timedelta(minutes=10)
FAIL_UNREACHABLE_AFTER = dt.timedelta(days=3)


class PayoutRunInProgress(Exception):
    """Another payout run is still running; payout runs never overlap."""

    def __init__(self, run: PayoutRun) -> None:
        super().__init__(f"payout run {run.pk} is still running")
        self.run = run


class WebhookSignatureError(ValueError):
    """A webhook whose Stripe-Signature is missing, malformed, wrong or too old."""


def _stripe() -> Any:
    from .stripe_client import stripe_client

    return stripe_client()


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    """``obj[a][b]...`` for dicts and StripeObjects alike; ``default`` when anything is missing."""
    for key in path:
        if obj is None:
            return default
        try:
            obj = obj[key]
        except (KeyError, TypeError, IndexError):
            return default
    return default if obj is None else obj


def recipient_of_user(*, user: Any) -> str:
    return f"user:{user.get_username()}"


def _notify(*, key: str, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    """Send one email at most once per ``key`` (after the surrounding transaction commits)."""
    if not to:
        return

    def send() -> None:
        try:
            with transaction.atomic():
                Notification.objects.create(key=key[:300], to=to, subject=subject[:200])
        except IntegrityError:
            return  # sent before
        body = render_to_string(template, {**context, "site_url": settings.SITE_URL})
        send_mail(
            f"[FairOSS] {subject}", body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=True
        )

    transaction.on_commit(send)


# --- connected accounts -----------------------------------------------------------------------


def connected_account_fields(*, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored fields for a Stripe account object (a dict from the API or a webhook)."""
    details = bool(_get(data, "details_submitted", default=False))
    payouts = bool(_get(data, "payouts_enabled", default=False))
    transfers = _get(data, "capabilities", "transfers") == "active"
    if payouts and transfers:
        status = ConnectedAccount.Status.ENABLED
    elif not details:
        status = ConnectedAccount.Status.ONBOARDING
    else:
        status = ConnectedAccount.Status.RESTRICTED
    due = _get(data, "requirements", "currently_due", default=[]) or []
    return {
        "status": status,
        "details_submitted": details,
        "payouts_enabled": payouts,
        "transfers_active": transfers,
        "disabled_reason": str(_get(data, "requirements", "disabled_reason", default="") or "")[
            :200
        ],
        "currently_due": [str(x) for x in due][:50],
    }


def connected_account_apply(
    *, account: ConnectedAccount, data: Mapping[str, Any], event_created: dt.datetime | None = None
) -> ConnectedAccount:
    """Store Stripe's view of ``account``. With ``event_created`` (a webhook), an event older
    than the last event applied or the last fetch from the API changes nothing, so events may
    arrive in any order."""
    with transaction.atomic():
        account = ConnectedAccount.objects.select_for_update().get(pk=account.pk)
        if event_created is not None:
            if account.stripe_updated_at and event_created < account.stripe_updated_at:
                return account
            account.stripe_updated_at = event_created
        else:
            # Fetched from the API just now: events created before this second are older.
            fetched = timezone.now().replace(microsecond=0)
            if account.stripe_updated_at is None or account.stripe_updated_at < fetched:
                account.stripe_updated_at = fetched
        for name, value in connected_account_fields(data=data).items():
            setattr(account, name, value)
        account.refreshed_at = timezone.now()
        account.save()
    return account


def connected_account_get_or_create(*, user: Any) -> ConnectedAccount:
    """The user's connected account, creating the Stripe Express account on first use.

    Idempotent: the Stripe call's idempotency key derives from the user id, and the row is
    unique per user (a concurrent second call returns the first row).
    """
    existing = ConnectedAccount.objects.filter(user=user).first()
    if existing is not None:
        return existing
    params: dict[str, Any] = {
        "type": "express",
        "country": settings.STRIPE_CONNECT_COUNTRY,
        "capabilities": {"transfers": {"requested": True}},
        "metadata": {"faiross_user": str(user.pk), "faiross_username": user.get_username()},
    }
    if user.email:
        params["email"] = user.email
    data = _stripe().v1.accounts.create(
        params=params, options={"idempotency_key": f"faiross-connect-account-user-{user.pk}"}
    )
    try:
        with transaction.atomic():
            account = ConnectedAccount.objects.create(
                user=user, stripe_account_id=data.id, **connected_account_fields(data=data)
            )
    except IntegrityError:
        return ConnectedAccount.objects.get(user=user)
    return account


def connected_account_refresh(*, account: ConnectedAccount) -> ConnectedAccount:
    """Fetch the account from Stripe and store its status."""
    data = _stripe().v1.accounts.retrieve(account.stripe_account_id)
    return connected_account_apply(account=account, data=data)


def connected_account_link(*, account: ConnectedAccount, return_url: str, refresh_url: str) -> str:
    """A fresh single-use onboarding link (Stripe's expire after minutes: make one per click)."""
    link = _stripe().v1.account_links.create(
        params={
            "account": account.stripe_account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
    )
    return str(link.url)


def payout_threshold_set(*, account: ConnectedAccount, amount: object) -> ConnectedAccount:
    """Set the person's payout threshold (minor units, at least the configured minimum)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationError({"threshold": "Give a whole number of minor units (cents)."})
    minimum = settings.FAIROSS_PAYOUT_THRESHOLD_MIN
    if not minimum <= amount <= MAX_AMOUNT:
        raise ValidationError(
            {"threshold": f"The threshold must be from {minimum:,} to {MAX_AMOUNT:,} minor units."}
        )
    account.payout_threshold = amount
    account.save(update_fields=["payout_threshold"])
    return account


def payout_threshold_of(*, account: ConnectedAccount | None) -> int:
    default = settings.FAIROSS_PAYOUT_THRESHOLD_DEFAULT
    value = account.payout_threshold if account and account.payout_threshold else default
    return max(int(value), settings.FAIROSS_PAYOUT_THRESHOLD_MIN)


# --- payout runs --------------------------------------------------------------------------


def payout_run_create(*, started_by: Any = None) -> PayoutRun:
    """A new running payout run, or :class:`PayoutRunInProgress`. A run left running for more
    than an hour (a dead worker) is closed as failed first."""
    try:
        with transaction.atomic():
            return PayoutRun.objects.create(started_by=started_by)
    except IntegrityError:
        open_run = PayoutRun.objects.filter(is_open=True).first()
        if open_run is None:
            return payout_run_create(started_by=started_by)
        if timezone.now() - open_run.created_at > STALE_RUN:
            PayoutRun.objects.filter(pk=open_run.pk, is_open=True).update(
                status=PayoutRun.Status.FAILED,
                is_open=None,
                finished_at=timezone.now(),
                error="left running (worker lost); closed by the next run",
            )
            return payout_run_create(started_by=started_by)
        raise PayoutRunInProgress(open_run) from None


def payout_run_start(*, started_by: Any = None) -> PayoutRun:
    """Create a payout run and hand it to the task queue after commit."""
    from .tasks import payout_run_task

    run = payout_run_create(started_by=started_by)
    transaction.on_commit(lambda: payout_run_task.delay(run.pk))
    return run


def payout_run_execute(*, run_id: int) -> PayoutRun:
    """Pay out every available balance at or above its owner's threshold.

    Per person and currency, skipped (and counted in the run's summary) when: no connected
    account able to receive transfers, below the threshold, held (money rule 7), a tax form
    is needed, or a payout is already in flight. Sweeps claimed identities' escrow first and
    re-enqueues payouts left pending by lost tasks. Safe to run twice: a finished run does
    nothing, and payouts are unique per person and currency while pending.
    """
    run = PayoutRun.objects.get(pk=run_id)
    if run.status != PayoutRun.Status.RUNNING:
        return run
    summary: dict[str, int] = defaultdict(int)
    try:
        summary["claims_swept"] = len(claims_sweep())
        summary["resumed"] = payouts_resume_stale()
        held = held_recipients()
        from .selectors import payout_candidates

        for candidate in payout_candidates():
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
            else:
                summary["created"] += 1
    except Exception as exc:
        log.exception("payout run %s failed", run_id)
        PayoutRun.objects.filter(pk=run_id).update(
            status=PayoutRun.Status.FAILED,
            is_open=None,
            finished_at=timezone.now(),
            summary=dict(summary),
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    PayoutRun.objects.filter(pk=run_id).update(
        status=PayoutRun.Status.DONE,
        is_open=None,
        finished_at=timezone.now(),
        summary=dict(summary),
    )
    return PayoutRun.objects.get(pk=run_id)


def payouts_resume_stale() -> int:
    """Re-enqueue payouts still pending with no attempt for a while (a lost task)."""
    from .tasks import payout_send_task

    cutoff = timezone.now() - RESUME_PENDING_AFTER
    ids = list(
        Payout.objects.filter(status=Payout.Status.PENDING, created_at__lt=cutoff)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in ids:

        def send(pk: int = pk) -> None:
            payout_send_task.delay(pk)

        transaction.on_commit(send)
    return len(ids)


def tax_form_needed(*, user: Any, currency: str, amount: int, year: int | None = None) -> bool:
    """True when paying ``amount`` would take the year's payouts in ``currency`` above the
    configured threshold and no tax form (W-9 / W-8BEN) is recorded as collected."""
    from .selectors import paid_in_year

    year = year or timezone.now().year
    limit = settings.FAIROSS_TAX_FORM_THRESHOLD
    if paid_in_year(user=user, currency=currency, year=year) + amount <= limit:
        return False
    from .models import TaxForm

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
    from .tasks import payout_send_task

    user = account.user
    recipient = recipient_of_user(user=user)
    key = (recipient, Account.Purpose.AVAILABLE, currency)
    try:
        with transaction.atomic():
            accounts_get_or_create(keys=[key])
            Account.objects.select_for_update().get(
                owner=recipient, purpose=Account.Purpose.AVAILABLE, currency=currency
            )
            from .selectors import account_balance

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
            transaction.on_commit(lambda: payout_send_task.delay(payout.pk))
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
    import stripe

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
    import stripe

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
                if now - payout.created_at > FAIL_UNREACHABLE_AFTER:
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


def _payout_mark_sent(payout: Payout, transfer: Any) -> None:
    """in_transit → paid_out (caller holds the row lock; status is pending)."""
    transfer_id = str(_get(transfer, "id", default=""))
    if int(_get(transfer, "amount", default=payout.amount)) != payout.amount:
        log.error("payout %s: transfer %s has another amount", payout.pk, transfer_id)
    ledger_post(
        idempotency_key=f"payout:{payout.pk}:sent",
        kind=LedgerTransaction.Kind.PAYOUT_CONFIRMED,
        reference=f"payout:{payout.pk}",
        legs=[
            Leg(payout.recipient, Account.Purpose.IN_TRANSIT, payout.currency, -payout.amount),
            Leg(payout.recipient, Account.Purpose.PAID_OUT, payout.currency, payout.amount),
        ],
        memo=f"transfer {transfer_id}",
    )
    payout.status = Payout.Status.SENT
    payout.stripe_transfer_id = transfer_id
    payout.sent_at = timezone.now()
    payout.last_error = ""
    payout.save()
    _notify(
        key=f"payout:{payout.pk}:sent",
        to=payout.user.email,
        subject="Your payout is on its way",
        template="payouts/email/payout_sent.txt",
        context={"payout": payout},
    )


def _payout_mark_failed(payout: Payout, reason: str) -> None:
    """in_transit → available, with the reason (caller holds the row lock)."""
    ledger_post(
        idempotency_key=f"payout:{payout.pk}:failed",
        kind=LedgerTransaction.Kind.PAYOUT_FAILED,
        reference=f"payout:{payout.pk}",
        legs=[
            Leg(payout.recipient, Account.Purpose.IN_TRANSIT, payout.currency, -payout.amount),
            Leg(payout.recipient, Account.Purpose.AVAILABLE, payout.currency, payout.amount),
        ],
        memo=reason[:500],
    )
    payout.status = Payout.Status.FAILED
    payout.failure_reason = reason
    payout.failed_at = timezone.now()
    payout.save()
    _notify(
        key=f"payout:{payout.pk}:failed",
        to=payout.user.email,
        subject="A payout failed",
        template="payouts/email/payout_failed.txt",
        context={"payout": payout},
    )


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


# --- claiming escrow --------------------------------------------------------------------------


def identity_spellings(*, identity: str) -> list[str]:
    """Every spelling of ``identity`` in escrow accounts or table entries (case-insensitive),
    plus the identity itself, sorted (a fixed lock order)."""

    found = {identity}
    found |= set(
        Account.objects.filter(owner__iexact=identity).values_list("owner", flat=True).distinct()
    )
    found |= set(
        TableEntry.objects.filter(recipient__iexact=identity)
        .values_list("recipient", flat=True)
        .distinct()
    )
    return sorted(found)


def escrow_sweep(*, identity: str, user: Any) -> list[LedgerTransaction]:
    """Move ``identity``'s escrow (every currency) to the user's available balance.

    Invariants: runs under a lock of the escrow account; the idempotency key names the last
    posting seen, so a repeat with no new escrow writes nothing, and escrow credited later
    (a run snapshotted before the claim) is swept by a later call.
    """
    out = []
    recipient = recipient_of_user(user=user)
    with transaction.atomic():
        accounts = list(
            Account.objects.select_for_update()
            .filter(owner=identity, purpose=Account.Purpose.ESCROW)
            .order_by("currency")
        )
        for account in accounts:
            agg = Posting.objects.filter(account=account).aggregate(
                total=Sum("amount"), last=Max("id")
            )
            balance = int(agg["total"] or 0)
            if balance <= 0:
                continue
            txn, _ = ledger_post(
                idempotency_key=f"claim:{account.pk}:{agg['last']}",
                kind=LedgerTransaction.Kind.CLAIM,
                reference=f"claim:{identity}",
                legs=[
                    Leg(identity, Account.Purpose.ESCROW, account.currency, -balance),
                    Leg(recipient, Account.Purpose.AVAILABLE, account.currency, balance),
                ],
                memo=f"{identity} claimed by {user.get_username()}",
            )
            out.append(txn)
    return out


def identity_claim(*, user: Any, identity: str) -> list[LedgerTransaction]:
    """Claim ``identity`` (``github:<login>`` / ``email:<address>``) for ``user``.

    Preconditions: the user proved the identity (a GitHub account linked through allauth, or
    a verified email address), else ValidationError; no other user claimed it.
    Invariants: a ClaimedIdentity row per spelling (future runs credit the user directly),
    then escrow → available by ledger transactions (money rule 6); idempotent.
    """
    from .selectors import identities_of_user

    proven = {i.lower() for i in identities_of_user(user=user)}
    if identity.lower() not in proven:
        raise ValidationError(
            {
                "identity": (
                    f"Sign in with that GitHub account or verify that address to claim {identity}."
                )
            }
        )
    txns: list[LedgerTransaction] = []
    with transaction.atomic():
        for spelling in identity_spellings(identity=identity):
            claim, _ = ClaimedIdentity.objects.get_or_create(
                identity=spelling, defaults={"user": user}
            )
            if claim.user_id != user.pk:
                raise ValidationError(
                    {"identity": f"{spelling} was already claimed by another account."}
                )
            txns += escrow_sweep(identity=spelling, user=user)
    return txns


def claims_sweep() -> list[LedgerTransaction]:
    """Sweep escrow credited to already-claimed identities (e.g. by a run snapshotted before
    the claim). Called by every payout run."""
    owners = set(
        Account.objects.filter(purpose=Account.Purpose.ESCROW).values_list("owner", flat=True)
    )
    txns: list[LedgerTransaction] = []
    for claim in (
        ClaimedIdentity.objects.filter(identity__in=owners)
        .select_related("user")
        .order_by("identity")
    ):
        txns += escrow_sweep(identity=claim.identity, user=claim.user)
    return txns


# --- returning unclaimed escrow -----------------------------------------------------------------


def _run_sources(
    run_id: int, identity: str, currency: str, cache: dict[int, Any]
) -> dict[str, int]:
    """{table owner: weight} of the tables that sent ``identity`` money in a run: the money
    passing through each owner times the millibips its table gave the identity."""
    from . import runs

    if run_id not in cache:
        run = DistributionRun.objects.filter(pk=run_id, status=DistributionRun.Status.DONE).first()
        cache[run_id] = runs.run_compute(run.snapshot) if run and run.snapshot else None  # type: ignore[arg-type]
    computed = cache[run_id]
    if computed is None or currency not in computed.distribution.currencies:
        return {}
    graph = computed.graph
    terminals = list(graph.terminal_ids or ())
    if identity not in terminals:
        return {}
    t = terminals.index(identity)
    nodes = graph.node_ids or ()
    through = computed.distribution.currencies[currency].pass_through
    weights: dict[str, int] = defaultdict(int)
    for i in range(len(nodes)):
        s, e = int(graph.terminal_indptr[i]), int(graph.terminal_indptr[i + 1])
        for target, m in zip(
            graph.terminal_targets[s:e].tolist(),
            graph.terminal_millibips[s:e].tolist(),
            strict=True,
        ):
            if target == t and m > 0 and int(through[i]) > 0:
                weights[nodes[i]] += int(through[i]) * int(m)
    return dict(weights)


def escrow_expired_parts(*, account: Account, cutoff: dt.datetime) -> list[tuple[int | None, int]]:
    """[(run id or None, amount)] of the escrow credited before ``cutoff`` and still there.

    Debits (claims, returns, holds) consume the oldest credits first.
    """
    postings = list(
        Posting.objects.filter(account=account)
        .select_related("transaction")
        .order_by("id")
        .values_list(
            "amount", "transaction__reference", "transaction__kind", "transaction__created_at"
        )
    )
    debits = -sum(a for a, *_ in postings if a < 0)
    parts: list[tuple[int | None, int]] = []
    for amount, reference, kind, created in postings:
        if amount <= 0:
            continue
        used = min(debits, amount)
        debits -= used
        left = amount - used
        if left and created < cutoff:
            run_id = None
            if kind == LedgerTransaction.Kind.DISTRIBUTION and reference.startswith("run:"):
                run_id = int(reference.split(":", 1)[1])
            parts.append((run_id, left))
    return parts


def escrow_return_expired(*, now: dt.datetime | None = None) -> list[LedgerTransaction]:
    """Return escrow unclaimed for ``FAIROSS_ESCROW_RETURN_DAYS`` to the reserve of the table
    owners that named the identity (money rule 6), split by what each table sent it.

    Skips claimed identities (swept instead), held ones (money rule 7), unclaimed projects'
    own escrow and credits whose source tables cannot be found. Idempotent: the key names the
    account and its last posting.
    """
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.FAIROSS_ESCROW_RETURN_DAYS)
    claimed = set(ClaimedIdentity.objects.values_list("identity", flat=True))
    cache: dict[int, Any] = {}
    out: list[LedgerTransaction] = []
    candidates = (
        Account.objects.filter(
            purpose=Account.Purpose.ESCROW, postings__transaction__created_at__lt=cutoff
        )
        .exclude(owner__startswith="project:")
        .distinct()
        .order_by("owner", "currency")
    )
    for candidate in candidates:
        if candidate.owner in claimed or recipient_is_held(recipient=candidate.owner):
            continue
        with transaction.atomic():
            account = Account.objects.select_for_update().get(pk=candidate.pk)
            parts = escrow_expired_parts(account=account, cutoff=cutoff)
            legs: dict[str, int] = defaultdict(int)
            for run_id, amount in parts:
                sources = (
                    _run_sources(run_id, account.owner, account.currency, cache) if run_id else {}
                )
                if not sources:
                    continue
                owners = sorted(sources)
                for owner, share in zip(
                    owners,
                    allocate(total=amount, weights=[sources[o] for o in owners]),
                    strict=True,
                ):
                    if share:
                        legs[owner] += share
            total = sum(legs.values())
            if total <= 0:
                continue
            last = Posting.objects.filter(account=account).aggregate(last=Max("id"))["last"]
            txn, _ = ledger_post(
                idempotency_key=f"escrow_return:{account.pk}:{last}",
                kind=LedgerTransaction.Kind.ESCROW_RETURN,
                reference=f"escrow_return:{account.owner}",
                legs=[
                    Leg(account.owner, Account.Purpose.ESCROW, account.currency, -total),
                    *(
                        Leg(owner, Account.Purpose.RESERVE, account.currency, amount)
                        for owner, amount in sorted(legs.items())
                    ),
                ],
                memo=f"unclaimed for {settings.FAIROSS_ESCROW_RETURN_DAYS} days",
            )
            out.append(txn)
    return out


def escrow_waiting_notify(*, run_id: int) -> int:
    """Email each ``email:`` identity a run credited to escrow that money waits to be claimed
    (once per run and address). Returns how many were notified."""
    from .models import RunAllocation

    n = 0
    rows = RunAllocation.objects.filter(
        run_id=run_id,
        run__status=DistributionRun.Status.DONE,
        purpose=Account.Purpose.ESCROW,
        recipient__startswith="email:",
    ).order_by("recipient", "currency")
    for row in rows:
        address = row.recipient.split(":", 1)[1]
        _notify(
            key=f"escrow-waiting:run:{run_id}:{row.recipient}:{row.currency}",
            to=address,
            subject="Money is waiting for you on FairOSS",
            template="payouts/email/escrow_waiting.txt",
            context={"identity": row.recipient, "allocation": row},
        )
        n += 1
    return n


# --- webhooks ---------------------------------------------------------------------------------


def stripe_event_verify(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event of a webhook request, if its Stripe-Signature verifies against the platform
    or the Connect endpoint secret within Stripe's 5-minute tolerance; else
    :class:`WebhookSignatureError`."""
    import stripe

    secrets = [
        s for s in (settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_CONNECT_WEBHOOK_SECRET) if s
    ]
    if not signature or not secrets:
        raise WebhookSignatureError("missing Stripe-Signature header or no webhook secret set")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookSignatureError("the body is not UTF-8") from None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=300)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        raise WebhookSignatureError("the signature does not match or is too old")
    try:
        event = json.loads(text)
    except ValueError:
        raise WebhookSignatureError("the body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event.get("type"):
        raise WebhookSignatureError("the body is not a Stripe event")
    return event


def stripe_event_record(*, event: Mapping[str, Any]) -> tuple[StripeEvent, bool]:
    """Store a verified event once (unique by id); a duplicate only counts the delivery."""
    created_ts = event.get("created")
    stripe_created = (
        dt.datetime.fromtimestamp(int(created_ts), tz=dt.UTC)
        if isinstance(created_ts, int)
        else None
    )
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(
                event_id=str(event["id"])[:255],
                type=str(event["type"])[:100],
                account=str(event.get("account") or "")[:255],
                livemode=bool(event.get("livemode")),
                stripe_created=stripe_created,
                payload=dict(event),
            )
            return record, True
    except IntegrityError:
        StripeEvent.objects.filter(event_id=event["id"]).update(deliveries=F("deliveries") + 1)
        return StripeEvent.objects.get(event_id=event["id"]), False


def stripe_event_process(*, event_id: str) -> StripeEvent:
    """Process a stored event once, in its own transaction (a failure is recorded and the
    event processed again on the next delivery or by staff). Order does not matter: account
    updates apply only when newer, transfer events confirm payouts idempotently."""
    with transaction.atomic():
        record = StripeEvent.objects.select_for_update().get(event_id=event_id)
        if record.status in (
            StripeEvent.Status.PROCESSED,
            StripeEvent.Status.IGNORED,
        ):
            return record
        try:
            with transaction.atomic():
                status = _stripe_event_dispatch(record.payload, record.stripe_created)
        except Exception as exc:  # recorded; Stripe delivers again
            log.exception("processing Stripe event %s failed", event_id)
            record.status = StripeEvent.Status.FAILED
            record.error = f"{type(exc).__name__}: {exc}"[:2000]
            record.save(update_fields=["status", "error"])
            return record
        record.status = status
        record.error = ""
        record.processed_at = timezone.now()
        record.save(update_fields=["status", "error", "processed_at"])
    return record


def _stripe_event_dispatch(event: Mapping[str, Any], created: dt.datetime | None) -> str:
    kind = str(event.get("type"))
    obj = _get(event, "data", "object", default={}) or {}
    if kind == "account.updated":
        account = ConnectedAccount.objects.filter(stripe_account_id=_get(obj, "id")).first()
        if account is None:
            return StripeEvent.Status.IGNORED
        connected_account_apply(account=account, data=obj, event_created=created)
        return StripeEvent.Status.PROCESSED
    if kind in ("transfer.created", "transfer.updated", "transfer.reversed"):
        return payout_transfer_event(transfer=obj, reversed_event=kind == "transfer.reversed")
    handler = handler_for(kind)
    if handler is None:
        return StripeEvent.Status.IGNORED
    handler(event=dict(event))
    return StripeEvent.Status.PROCESSED


def users_for_identities(*, identities: Iterable[str]) -> dict[str, Any]:
    """{identity: user} for claimed identities (for display)."""
    rows = ClaimedIdentity.objects.filter(identity__in=list(identities)).values_list(
        "identity", "user_id"
    )
    users = {u.pk: u for u in User.objects.filter(pk__in=[r[1] for r in rows])}
    return {i: users[u] for i, u in rows}
