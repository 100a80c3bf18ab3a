"""One function per operation, each driving the real services (what views, API and tasks call).

Every operation takes the :class:`~devtools.simulation.world.World`, makes its random choices
from ``world.rng`` and returns a short description for the operation log (names the
simulation gave, never database ids). Expected refusals (``ValidationError``,
``PermissionDenied``, a run already in progress) propagate to the runner, which counts them
as outcomes; anything else is a crash and reported as a violation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from companies.models import Agreement, Company, Invoice
from companies.services import agreements as agreement_services
from companies.services import billing, payments, vesting
from companies.services import companies as company_services
from disputes.models import Dispute, Hold
from disputes.services import appeals as dispute_appeals
from disputes.services import corrections as dispute_corrections
from disputes.services import filing as dispute_filing
from disputes.services import holds as dispute_holds
from faiross.kernel.recipients import project_key, user_key
from faiross.kernel.shares import FULL_SHARE
from payouts import inflows
from payouts.connect import accounts as connect_accounts
from payouts.connect import claims, escrow, transfers, webhooks
from payouts.connect._common import _stripe
from payouts.distribution import runs
from payouts.models import DistributionRun, Payout
from projects.cycles import ClosedCycleError
from projects.faiross_toml import table_to_toml
from projects.models import Membership, Project, TableVersion
from projects.services import projects as project_services
from projects.services import tables

from .world import CURRENCIES, EMAILS, GITHUB_LOGINS, PURLS, Kill, World

# Checkout returns only to FairOSS's own site.
SUCCESS_URL = f"{settings.SITE_URL}/paid/?session_id={{CHECKOUT_SESSION_ID}}"
CANCEL_URL = f"{settings.SITE_URL}/cancel/"


# --- people, projects, companies --------------------------------------------------------


def setup_staff(world: World) -> None:
    """Staff and an ombudsman (the office's permission), created before step 1."""
    User = get_user_model()
    world.staff = User.objects.create_user(
        username=f"sim-staff-{world.seed}", email="staff@sim.example.org", is_staff=True
    )
    ombudsman = User.objects.create_user(
        username=f"sim-ombud-{world.seed}", email="ombud@sim.example.org", is_staff=True
    )
    ombudsman.user_permissions.add(
        Permission.objects.get(content_type__app_label="disputes", codename="act_as_ombudsman")
    )
    world.ombudsman = User.objects.get(pk=ombudsman.pk)  # fresh permission cache
    # A second ombudsman: appeals go to one who did not resolve the dispute.
    second = User.objects.create_user(
        username=f"sim-ombud2-{world.seed}", email="ombud2@sim.example.org", is_staff=True
    )
    second.user_permissions.add(
        Permission.objects.get(content_type__app_label="disputes", codename="act_as_ombudsman")
    )
    world.ombudsman2 = User.objects.get(pk=second.pk)


def user_create(world: World) -> str:
    name = world.next_name(f"s{world.seed}u")
    get_user_model().objects.create_user(username=name, email=f"{name}@sim.example.org")
    world.users.append(name)
    return f"user {name}"


def _actor(world: World) -> Any:
    if not world.users:
        user_create(world)
    return world.user(world.pick(world.users))


def project_create(world: World) -> str:
    creator = _actor(world)
    slug = world.next_name(f"s{world.seed}p")
    if world.chance(0.05):
        slug = "Bad Slug!"  # refused: the slug rule
    project_services.project_create(creator=creator, slug=slug, name=f"Project {slug}")
    world.projects.append(slug)
    if world.chance(0.6):
        tables.table_propose(
            owner_key=project_key(slug),
            actor=creator,
            entries=[
                tables.EntryInput(
                    recipient=user_key(creator.username),
                    millibips=world.rng.randint(FULL_SHARE // 10, FULL_SHARE),
                )
            ],
        )
    return f"project {slug} by {creator.username}"


def project_member_add(world: World) -> str:
    slug = world.pick(world.projects)
    if slug is None:
        return project_create(world)
    project = Project.objects.get(slug=slug)
    steward = _steward_of(slug)
    if steward is None:
        return f"{slug} has no steward"
    target = _actor(world)
    role = world.pick(["steward", "maintainer"])
    invitation = project_services.project_invite(
        project=project, actor=steward, target=target.username, role=role
    )
    project_services.invitation_accept(invitation=invitation, user=target)
    return f"{target.username} joins {slug} as {role}"


def company_create(world: World) -> str:
    creator = _actor(world)
    slug = world.next_name(f"s{world.seed}c")
    kind = "vc_fund" if world.chance(0.25) else world.pick(["startup", "mature"])
    company_services.company_create(creator=creator, slug=slug, name=f"Company {slug}", kind=kind)
    world.companies.append(slug)
    # Its table: where its money enters the graph (mostly projects and people).
    names = [project_key(p) for p in world.projects[-4:]] + [user_key(u) for u in world.users[-3:]]
    world.rng.shuffle(names)
    chosen = names[: world.rng.randint(1, 3)]
    share = FULL_SHARE if world.chance(0.5) else world.rng.randint(FULL_SHARE // 2, FULL_SHARE)
    parts = [share // len(chosen)] * len(chosen) if chosen else []
    if parts:
        parts[0] += share - sum(parts)
        tables.table_propose(
            owner_key=f"company:{slug}",
            actor=creator,
            entries=[
                tables.EntryInput(recipient=r, millibips=m)
                for r, m in zip(chosen, parts, strict=True)
            ],
        )
    return f"company {slug} by {creator.username} naming {len(chosen)}"


# --- share tables -----------------------------------------------------------------------


def _recipient(world: World, owner_key: str) -> str:
    r = world.rng.random()
    if r < 0.35 and world.projects:
        return project_key(world.pick(world.projects))
    if r < 0.55 and world.users:
        return user_key(world.pick(world.users))
    if r < 0.75:
        return f"github:{world.pick(GITHUB_LOGINS)}"
    if r < 0.9:
        return f"email:{world.pick(EMAILS)}"
    return f"purl:{world.pick(PURLS)}"


def _entries(world: World, owner_key: str) -> list[tables.EntryInput]:
    n = world.rng.randint(0, 4)
    recipients: list[str] = []
    for _ in range(n):
        r = _recipient(world, owner_key)
        if r != owner_key and r not in recipients:
            recipients.append(r)
    budget = FULL_SHARE if world.chance(0.3) else world.rng.randint(FULL_SHARE // 5, FULL_SHARE)
    if world.chance(0.05):
        budget = FULL_SHARE + world.rng.randint(1, 1000)  # refused: over 100%
    out = []
    left = budget
    for i, r in enumerate(recipients):
        m = left if i == len(recipients) - 1 else world.rng.randint(1, max(1, left // 2))
        if m <= 0:
            break
        out.append(tables.EntryInput(recipient=r, millibips=m))
        left -= m
    return out


def _owner_and_member(world: World, *, company: bool) -> tuple[str, Any]:
    """A table owner and someone who may (usually) propose on it."""
    if company and world.companies:
        slug = world.pick(world.companies)
        c = Company.objects.get(slug=slug)
        member = c.members.order_by("user__username").select_related("user").first()
        return f"company:{slug}", member.user if member else _actor(world)
    slug = world.pick(world.projects)
    if slug is None:
        project_create(world)
        slug = world.projects[-1]
    members = list(
        Membership.objects.filter(project__slug=slug)
        .order_by("user__username")
        .select_related("user")
    )
    if members and world.chance(0.9):
        return project_key(slug), world.pick(members).user
    return project_key(slug), _actor(world)  # often not a member: refused


def table_propose(world: World) -> str:
    owner, actor = _owner_and_member(world, company=world.chance(0.3))
    entries = _entries(world, owner)
    version = tables.table_propose(owner_key=owner, actor=actor, entries=entries)
    return f"{owner} v{version.number} {version.status} ({len(entries)} entries)"


def table_closed_cycle(world: World) -> str:
    """Two projects naming each other with 100% and no reserve: the second must be refused
    (or the first, when the cycle already closes through other tables)."""
    if len(world.projects) < 2:
        return project_create(world)
    a, b = world.rng.sample(sorted(world.projects), 2)
    results = []
    for src, dst in ((a, b), (b, a)):
        steward = _steward_of(src)
        if steward is None:
            return f"{src} has no steward"
        try:
            v = tables.table_propose(
                owner_key=project_key(src),
                actor=steward,
                entries=[tables.EntryInput(recipient=project_key(dst), millibips=FULL_SHARE)],
            )
            results.append(v.status)
        except ValidationError:  # the refusal we want
            results.append("refused")
    return f"closed cycle {a}<->{b}: {'/'.join(results)}"


def _proposed(world: World) -> TableVersion | None:
    proposed = list(
        TableVersion.objects.filter(
            status=TableVersion.Status.PROPOSED,
            table__owner_key__in=[project_key(p) for p in world.projects]
            + [f"company:{c}" for c in world.companies],
        )
        .select_related("table")
        .order_by("table__owner_key", "number")
    )
    return world.pick(proposed)


def _approver_of(world: World, owner_key: str) -> Any:
    kind, _, slug = owner_key.partition(":")
    rows: Any
    if kind == "project":
        rows = Membership.objects.filter(project__slug=slug, role=Membership.Role.STEWARD)
    else:
        rows = Company.objects.get(slug=slug).members.filter(role="owner")
    users = [m.user for m in rows.order_by("user__username").select_related("user")]
    return world.pick(users) if users and world.chance(0.9) else _actor(world)


def table_approve(world: World) -> str:
    version = _proposed(world)
    if version is None:
        return table_propose(world)
    actor = _approver_of(world, version.table.owner_key)
    version = tables.table_version_approve(version=version, actor=actor)
    return f"approve {version.table.owner_key} v{version.number}: {version.status}"


def table_withdraw(world: World) -> str:
    version = _proposed(world)
    if version is None:
        return "nothing to withdraw"
    actor = version.proposed_by if version.proposed_by and world.chance(0.7) else _actor(world)
    version = tables.table_version_withdraw(version=version, actor=actor)
    return f"withdraw {version.table.owner_key} v{version.number}: {version.status}"


# --- agreements and money in --------------------------------------------------------------


def _owner(company: Company) -> Any:
    member = company.members.filter(role="owner").order_by("user__username").first()
    assert member is not None  # a company keeps its last owner
    return member.user


def _company(world: World) -> tuple[Company, Any] | None:
    if not world.companies:
        return None
    c = Company.objects.get(slug=world.pick(world.companies))
    return c, _owner(c)


def _agreements(world: World, status: str) -> list[Agreement]:
    return list(
        Agreement.objects.filter(company__slug__in=world.companies, status=status)
        .select_related("company")
        .order_by("company__slug", "created_at", "pk")
    )


def agreement_advance(world: World) -> str:
    """Sign a draft or countersign a signed agreement (sometimes out of order: refused)."""
    a = world.pick(_agreements(world, "draft") + _agreements(world, "signed"))
    if a is None:
        return agreement_create(world)
    owner = _owner(a.company)
    if a.status == "draft" and world.chance(0.8):
        agreement_services.agreement_sign(
            agreement=a, actor=owner, ip_address="10.0.0.1", user_agent="simulate"
        )
        return f"sign agreement of {a.company.slug}"
    agreement_services.agreement_countersign(agreement=a, staff=world.staff)
    return f"countersign agreement of {a.company.slug}"


def dividend_declare(world: World) -> str:
    a = world.pick(_agreements_of(world, "dividend", ("active",)))
    if a is None:
        return agreement_create(world)
    owner = _owner(a.company)
    amount = world.amount() * world.rng.choice((1, 10, 100))
    billing.dividend_declare(
        agreement=a, actor=owner, amount=amount, currency=a.currency, declared_on=world.now.date()
    )
    return f"dividend of {amount} {a.currency} declared by {a.company.slug}"


def _open_invoice(world: World) -> Invoice | None:
    return world.pick(
        list(
            Invoice.objects.filter(company__slug__in=world.companies, status=Invoice.Status.OPEN)
            .select_related("company")
            .order_by("company__slug", "pk")  # source keys hold ids: not a stable order
        )
    )


def invoice_pay_wire(world: World) -> str:
    invoice = _open_invoice(world)
    if invoice is None:
        return dividend_declare(world)
    payments.invoice_wire_received(invoice=invoice, staff=world.staff, reference="sim wire")
    if world.chance(0.2):  # marked twice: changes nothing
        payments.invoice_wire_received(invoice=invoice, staff=world.staff, reference="sim wire")
    return f"invoice of {invoice.amount} {invoice.currency} of {invoice.company.slug} paid by wire"


def invoice_pay_checkout(world: World) -> str:
    """Checkout: start (sometimes twice), pay on the test page, then the return, webhooks,
    both, or neither yet (a later ``webhooks_deliver`` records it)."""
    invoice = _open_invoice(world)
    if invoice is None:
        return dividend_declare(world)
    owner = _owner(invoice.company)
    url = payments.invoice_checkout_start(
        invoice=invoice, actor=owner, success_url=SUCCESS_URL, cancel_url=CANCEL_URL
    )
    if world.chance(0.2):
        payments.invoice_checkout_start(
            invoice=invoice, actor=owner, success_url=SUCCESS_URL, cancel_url=CANCEL_URL
        )
    if world.chance(0.1):
        return f"checkout of {invoice.amount} {invoice.currency} abandoned"
    status, location = world.control.page_post(url, {"action": "pay"})
    if status != 303 or not location:
        raise AssertionError(f"the Checkout page answered {status}")
    session_id = location.rsplit("=", 1)[1]
    how = world.rng.choice(("return", "webhooks", "both", "later"))
    if how in ("return", "both"):
        payments.invoice_checkout_confirm(invoice=invoice, session_id=session_id)
    if how in ("webhooks", "both"):
        webhooks_deliver(world)
    return f"checkout of {invoice.amount} {invoice.currency} paid ({how})"


DELIVERED_TYPES = (
    "checkout.session.completed",
    "checkout.session.expired",
    "payment_intent.succeeded",
    "charge.succeeded",
    "transfer.created",
    "transfer.updated",
    "transfer.reversed",
    "account.updated",
)


def webhooks_deliver(world: World) -> str:
    """Deliver the server's events (payments, Checkout expiry, transfers, reversals, account
    updates) in a random order, some again later (replays), as the webhook endpoint does
    after verifying the signature: record once, process.

    The events are read from the server's state in creation order (reproducible: the
    simulation makes its requests in a fixed order; Stripe's list order within one second
    is not)."""
    events = world.control.events(DELIVERED_TYPES)
    new = [e for e in events if e["id"] not in world.delivered]
    old = [e for e in events if e["id"] in world.delivered]
    world.rng.shuffle(new)
    chosen = [e for e in new if world.chance(0.7)]
    if old:
        chosen += [world.pick(old) for _ in range(world.rng.randint(0, 3))]  # replays
    chosen += [e for e in chosen if world.chance(0.2)]  # delivered twice at once
    for event in chosen:
        record, _ = webhooks.stripe_event_record(event=event)
        record = webhooks.stripe_event_process(event_id=record.event_id)
        if record.status == "failed":
            raise AssertionError(f"{event['type']} failed: {record.error}")
        world.delivered.add(event["id"])
    return f"{len(chosen)} webhook deliveries"


def inflow_wire(world: World) -> str:
    """Staff record a wire; sometimes a replay (idempotent) or a reused reference (refused)."""
    if world.wire_refs and world.chance(0.15):
        i = world.rng.randrange(len(world.wire_refs))
        slug, amount, currency = world.wire_refs[i]
        if world.chance(0.5):
            amount += 1  # the same reference for other money: refused
        ref = f"sim-{world.seed}-wire-{i}"
    else:
        if not world.companies:
            return company_create(world)
        slug, amount, currency = world.pick(world.companies), world.amount(), world.currency()
        ref = f"sim-{world.seed}-wire-{len(world.wire_refs)}"
        world.wire_refs.append((slug, amount, currency))
    inflows.inflow_record(
        company=Company.objects.get(slug=slug),
        amount=amount,
        currency=currency,
        reference=ref,
        recorded_by=world.staff,
    )
    return f"wire {amount} {currency} for {slug}"


# --- distribution runs ----------------------------------------------------------------------

_STAGES: tuple[Callable[[int], None], ...] = (
    runs._stage_snapshot,
    runs._stage_compute,
    runs._stage_post,
)


def _killing_save(original: Callable[..., Any]) -> Callable[..., Any]:
    """``DistributionRun.save`` that writes, then dies: the stage's transaction rolls back."""

    def save(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        raise Kill("killed at the end of the stage")

    return save


def distribution_run(world: World) -> str:
    """Start a run (what the API, admin and beat call) and execute it as the task does; or
    kill it inside a random stage and leave it for ``distribution_resume``."""
    if DistributionRun.objects.filter(is_open=True).exists() and world.chance(0.6):
        return distribution_resume(world)
    run = runs.distribution_run_create(started_by=world.staff)
    if world.chance(0.25):
        crash_at = world.rng.randrange(len(_STAGES))
        for stage in _STAGES[:crash_at]:
            stage(run.pk)
        original = DistributionRun.save
        with (
            mock.patch.object(DistributionRun, "save", _killing_save(original)),
            contextlib.suppress(Kill),
        ):
            _STAGES[crash_at](run.pk)
        status = DistributionRun.objects.get(pk=run.pk).status
        return f"run killed in stage {crash_at + 1}, left {status}"
    run = runs.distribution_run_execute(run_id=run.pk)
    return (
        f"run {run.status} ({', '.join(f'{c} {t}' for c, t in sorted((run.totals or {}).items()))})"
    )


def distribution_resume(world: World) -> str:
    run = DistributionRun.objects.filter(is_open=True).order_by("pk").first()
    if run is None:
        return distribution_run(world)
    before = run.status
    run = runs.distribution_run_execute(run_id=run.pk)
    return f"run resumed from {before}: {run.status}"


# --- identities, escrow -------------------------------------------------------------------


def identity_claim(world: World) -> str:
    """A person proves an identity (GitHub login or verified address) and claims it; sometimes
    without proof, or someone else's (refused)."""
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount

    user = _actor(world)
    if world.chance(0.5):
        login = world.pick(GITHUB_LOGINS)
        identity = f"github:{login}"
        if world.chance(0.9) and not SocialAccount.objects.filter(uid=f"sim-{login}").exists():
            SocialAccount.objects.create(
                user=user, provider="github", uid=f"sim-{login}", extra_data={"login": login}
            )
    else:
        address = world.pick(EMAILS)
        identity = f"email:{address}"
        if world.chance(0.9) and not EmailAddress.objects.filter(email=address).exists():
            EmailAddress.objects.create(user=user, email=address, verified=True, primary=False)
    txns = claims.identity_claim(user=user, identity=identity)
    return f"{user.username} claims {identity} ({len(txns)} sweeps)"


def escrow_return(world: World) -> str:
    txns = escrow.escrow_return_expired()
    return f"escrow returned: {len(txns)} transactions"


# --- payouts -----------------------------------------------------------------------------


def _user_with_money(world: World) -> Any:
    """Usually someone with an available balance (who can then be paid out)."""
    from payouts.models import Posting

    rich = sorted(
        {
            owner.removeprefix("user:")
            for owner in Posting.objects.filter(
                account__purpose="available", account__owner__in=[user_key(u) for u in world.users]
            ).values_list("account__owner", flat=True)
        }
    )
    if rich and world.chance(0.7):
        return world.user(world.pick(rich))
    return _actor(world)


def connect_onboard(world: World) -> str:
    user = _user_with_money(world)
    account = connect_accounts.connected_account_get_or_create(user=user)
    outcome = world.rng.choice(("complete", "complete", "complete", "incomplete", "restrict"))
    world.control.onboard(account.stripe_account_id, outcome)
    if world.chance(0.7):
        account = connect_accounts.connected_account_refresh(account=account)
    # else the account.updated webhook tells FairOSS (webhooks_deliver)
    if world.chance(0.3):
        connect_accounts.payout_threshold_set(
            account=account, amount=world.rng.choice((100, 500, 1000, 5000, 50))
        )
    return f"{user.username} onboarding {outcome}: {account.status}"


_FAULTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("500", {}),
    ("500", {"count": 3}),
    ("429", {}),
    ("429", {"count": 3}),
    ("drop_after_commit", {}),
    ("delay", {"delay_seconds": 1.3}),
)


def _send(world: World, payout_id: int) -> str:
    """Send one payout, maybe with a fault at Stripe or a kill after the transfer."""
    mode = ""
    if world.chance(0.4):
        mode, options = world.pick(_FAULTS)
        world.control.fault("/v1/transfers", mode, method="POST", **options)
    try:
        if world.chance(0.15):
            original = transfers._payout_mark_sent

            def die(payout: Any, transfer: Any) -> None:
                original(payout, transfer)
                raise Kill("killed after the transfer")

            with mock.patch.object(transfers, "_payout_mark_sent", die):
                try:
                    return transfers.payout_send(payout_id=payout_id)
                except Kill:
                    return "killed"
        return transfers.payout_send(payout_id=payout_id)
    finally:
        world.control.faults_clear()
        if mode == "delay":
            # Let the timed-out request finish at the server before the simulated clock moves
            # on by hours: no real request stays in flight for the 23 hours after which a
            # payout is looked up and sent under a new key.
            time.sleep(1.5)


def payout_run(world: World) -> str:
    """A payout run (created and executed as the task does), then each payout's transfer."""
    run = transfers.payout_run_create(started_by=world.staff)
    run = transfers.payout_run_execute(run_id=run.pk)
    results = [
        _send(world, pk)
        for pk in Payout.objects.filter(run=run, status=Payout.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]
    return f"payout run: {dict(sorted((run.summary or {}).items()))} sends {results}"


def payouts_retry(world: World) -> str:
    """The retry of pending payouts (Celery's autoretry), with faults."""
    results = [
        _send(world, pk)
        for pk in Payout.objects.filter(
            status=Payout.Status.PENDING, pk__gt=world.baseline.get("payout", 0)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    ]
    return f"payout retries {results}"


# --- disputes and holds ------------------------------------------------------------------


def _money_holders(world: World) -> list[tuple[str, str, str, int]]:
    """(recipient, purpose, currency, balance) with money that a hold could freeze."""
    from django.db.models import Sum

    from payouts.models import Posting

    owners = [user_key(u) for u in world.users] + [project_key(p) for p in world.projects]
    owners += [f"github:{g}" for g in GITHUB_LOGINS] + [f"email:{e}" for e in EMAILS]
    purposes = {owner: dispute_holds.default_source(owner) for owner in owners}
    balances = {
        (owner, purpose, currency): total
        for owner, purpose, currency, total in Posting.objects.filter(
            account__owner__in=owners, account__purpose__in=sorted(set(purposes.values()))
        )
        .values_list("account__owner", "account__purpose", "account__currency")
        .annotate(t=Sum("amount"))
        .order_by()
    }
    out = []
    for owner in owners:
        purpose = purposes[owner]
        for currency in CURRENCIES:
            balance = balances.get((owner, purpose, currency), 0)
            if balance > 0:
                out.append((owner, purpose, currency, balance))
    return out


def dispute_hold(world: World) -> str:
    """File a dispute about a project and put some of someone's money on hold (or freeze)."""
    holders = _money_holders(world)
    if not holders or not world.projects:
        return "nobody to hold"
    recipient, _, currency, balance = world.pick(holders)
    filer = _actor(world)
    dispute = dispute_filing.dispute_file(
        filer=filer,
        target=f"project:{world.pick(world.projects)}",
        kind="wrong_share",
        title="Simulated dispute",
        description="Generated by the simulation.",
    )
    amount = world.rng.choice((0, balance, max(1, balance // 2), balance + 1))
    dispute_holds.hold_place(
        dispute=dispute,
        actor=world.ombudsman,
        amount=amount,
        currency=currency,
        reason="simulated hold",
        recipient=recipient,
    )
    return f"hold {amount}/{balance} {currency} of {recipient}"


def _active_hold(world: World) -> Hold | None:
    return world.pick(
        list(
            Hold.objects.filter(
                status=Hold.Status.ACTIVE, pk__gt=world.baseline.get("hold", 0)
            ).order_by("pk")
        )
    )


def hold_release(world: World) -> str:
    hold = _active_hold(world)
    if hold is None:
        return dispute_hold(world)
    dispute_holds.hold_release(hold=hold, actor=world.ombudsman, reason="simulated release")
    return f"release hold of {hold.recipient}"


def hold_redirect(world: World) -> str:
    hold = _active_hold(world)
    if hold is None:
        return dispute_hold(world)
    to = user_key(world.pick(world.users))
    amount = None
    if hold.remaining > 1 and world.chance(0.4):
        amount = world.rng.randint(1, hold.remaining)
    dispute_holds.hold_redirect(
        hold=hold,
        actor=world.ombudsman,
        to_recipient=to,
        reason="simulated redirect",
        amount=amount,
    )
    return f"redirect {amount or hold.remaining} of {hold.recipient}'s hold to {to}"


def dispute_resolve(world: World) -> str:
    dispute = world.pick(
        list(
            Dispute.objects.filter(
                pk__gt=world.baseline.get("dispute", 0), resolved_at__isnull=True
            ).order_by("pk")
        )
    )
    if dispute is None:
        return "no open dispute"
    dispute_appeals.dispute_resolve(
        dispute=dispute,
        actor=_ombudsman(world),
        outcome=world.pick(["upheld", "rejected", "settled"]),
        resolution="Simulated resolution.",
    )
    return "dispute resolved"


EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    runs.RunInProgress,
    transfers.PayoutRunInProgress,
    ClosedCycleError,
)


# --- more agreements: pledge, equity, carry; their events; ending -------------------------


def _agreement_terms(world: World, kind: str) -> dict[str, Any]:
    """Terms of a new agreement of ``kind``, sometimes out of bounds (refused)."""
    start = world.now.date() - dt.timedelta(days=world.rng.choice((0, 0, 10, 40, 200)))
    common: dict[str, Any] = {"currency": world.currency(), "start_date": start}
    if world.chance(0.2):
        common["end_date"] = start + dt.timedelta(days=world.rng.choice((30, 90, 400)))
    if kind == "pledge":
        return {
            **common,
            "amount": world.amount(),
            "developers": world.rng.choice((1, 1, 2, 5)),
            "period": world.pick(["monthly", "quarterly", "yearly", "weekly"]),  # weekly: refused
        }
    share = world.rng.choice((1, 7, 100_000, 333_333, 1_000_000, 5_000_000))
    if world.chance(0.05):
        share = 6_000_000  # refused: above the maximum share
    if kind == "carry":
        return {**common, "share_millibips": share, "fund_name": "Sim Fund I"}
    if kind == "equity":
        milestones = []
        time_part = FULL_SHARE
        if world.chance(0.5):
            n = world.rng.randint(1, 3)
            each = world.rng.randint(1, FULL_SHARE // 4)
            milestones = [{"title": f"milestone {i + 1}", "millibips": each} for i in range(n)]
            time_part = FULL_SHARE - n * each
        months = world.rng.choice((0, 12, 48))
        return {
            **common,
            "share_millibips": share,
            "share_count": world.rng.choice((1_000, 10_000_000)),
            "share_class": "common",
            "cliff_months": world.rng.choice((0, 1, 12)) if months else 0,
            "vesting_months": months,
            "time_vesting_millibips": time_part,
            "milestones": milestones,
        }
    return {**common, "share_millibips": share}


def agreement_create(world: World) -> str:
    found = _company(world)
    if found is None:
        return company_create(world)
    company, owner = found
    kind = world.pick(["dividend", "dividend", "dividend", "pledge", "pledge", "equity", "carry"])
    terms = _agreement_terms(world, kind)
    a = agreement_services.agreement_create(
        company=company, actor=owner, kind=kind, terms_data=terms
    )
    if world.chance(0.8):
        agreement_services.agreement_sign(
            agreement=a, actor=owner, ip_address="10.0.0.1", user_agent="simulate"
        )
        if world.chance(0.8):
            agreement_services.agreement_countersign(agreement=a, staff=world.staff)
    return f"{kind} agreement of {company.slug} ({a.get_status_display()})"


def _agreements_of(world: World, kind: str, statuses: tuple[str, ...]) -> list[Agreement]:
    return list(
        Agreement.objects.filter(company__slug__in=world.companies, kind=kind, status__in=statuses)
        .select_related("company")
        .order_by("company__slug", "created_at", "pk")
    )


def pledge_invoices_issue(world: World) -> str:
    """The scheduled task: an invoice for every pledge period that has begun."""
    ids = [a.pk for a in _agreements_of(world, "pledge", ("active",))]
    if not ids:
        return agreement_create(world)
    invoices = billing.pledge_invoices_issue(today=world.now.date(), agreement_ids=ids)
    return f"pledge invoices issued: {len(invoices)}"


def carry_distribution(world: World) -> str:
    statuses = ("active",) if world.chance(0.9) else ("signed", "ended")  # else: refused
    a = world.pick(_agreements_of(world, "carry", statuses))
    if a is None:
        return agreement_create(world)
    actor = _owner(a.company) if world.chance(0.7) else world.staff
    amount = world.amount() * world.rng.choice((1, 10, 100))
    billing.carry_distribution_record(
        agreement=a,
        actor=actor,
        amount=amount,
        currency=a.currency,
        distributed_on=world.now.date(),
    )
    return f"carry of {amount} {a.currency} realised by {a.company.slug}"


def milestone_met(world: World) -> str:
    from companies.models import Milestone

    milestones = list(
        Milestone.objects.filter(
            agreement__company__slug__in=world.companies, agreement__kind="equity"
        )
        .select_related("agreement__company")
        .order_by("agreement__company__slug", "agreement__created_at", "pk")
    )
    m = world.pick(milestones)
    if m is None:
        return agreement_create(world)
    vesting.milestone_mark_met(milestone=m, staff=world.staff, met_on=world.now.date())
    return f"milestone {m.title} of {m.agreement.company.slug} met"


def liquidity_event(world: World) -> str:
    statuses = ("active",) if world.chance(0.9) else ("signed", "ended")  # else: refused
    a = world.pick(_agreements_of(world, "equity", statuses))
    if a is None:
        return agreement_create(world)
    kind = world.pick(["secondary", "buyback", "ipo", "acquisition"])
    portion = None if world.chance(0.6) else world.rng.choice((1, 100_000, FULL_SHARE))
    proceeds = world.amount() * world.rng.choice((100, 1_000, 10_000))
    event = billing.liquidity_event_record(
        agreement=a,
        actor=_owner(a.company),
        kind=kind,
        occurred_on=world.now.date(),
        proceeds=proceeds,
        currency=a.currency,
        portion_millibips=portion,
    )
    return f"{kind} of {a.company.slug}: {event.due_amount} {a.currency} due"


def agreement_end(world: World) -> str:
    a = world.pick(
        [
            a
            for kind in ("dividend", "pledge", "equity", "carry")
            for a in _agreements_of(world, kind, ("active", "signed", "draft", "ended"))
        ]
    )
    if a is None:
        return agreement_create(world)
    actor = _owner(a.company) if world.chance(0.6) else world.staff
    if world.chance(0.1):
        actor = _actor(world)  # not a member: refused
    agreement_services.agreement_end(agreement=a, actor=actor, reason="Simulated end.")
    return f"{a.kind} agreement of {a.company.slug} ended"


def invoice_void(world: World) -> str:
    invoice = _open_invoice(world)
    if invoice is None:
        return "no open invoice"
    payments.invoice_void(invoice=invoice, staff=world.staff)
    if world.chance(0.2):  # voiding twice, or paying a void invoice: refused
        payments.invoice_wire_received(invoice=invoice, staff=world.staff, reference="late")
    return f"invoice of {invoice.amount} {invoice.currency} of {invoice.company.slug} voided"


def checkout_expire(world: World) -> str:
    """Stripe expires an open Checkout session (the company left the page); the expiry
    event is delivered later, and the next start makes a fresh session."""
    invoices = list(
        Invoice.objects.filter(company__slug__in=world.companies, status=Invoice.Status.OPEN)
        .exclude(stripe_checkout_session="")
        .select_related("company")
        .order_by("company__slug", "pk")
    )
    invoice = world.pick(invoices)
    if invoice is None:
        return invoice_pay_checkout(world)
    client = _stripe()
    session = client.v1.checkout.sessions.retrieve(invoice.stripe_checkout_session)
    if session.status != "open":
        return f"session of {invoice.company.slug}'s invoice is {session.status}"
    client.v1.checkout.sessions.expire(session.id)
    if world.chance(0.5):
        url = payments.invoice_checkout_start(
            invoice=invoice,
            actor=_owner(invoice.company),
            success_url=SUCCESS_URL,
            cancel_url=CANCEL_URL,
        )
        if url.rsplit("/", 1)[-1] == session.id:
            raise AssertionError("an expired Checkout session was offered again")
    return f"checkout session of {invoice.company.slug} expired"


# --- table files, stewards ----------------------------------------------------------------


def table_import(world: World) -> str:
    """Import a file into a table as the page and the API do: a faiross.toml (the exported
    table, or one edited), a requirements.txt or a package.json, sometimes broken."""
    owner, actor = _owner_and_member(world, company=world.chance(0.2))
    r = world.rng.random()
    if r < 0.4:
        # The file a steward downloads (the exporter's format), edited to new entries.
        entries = [(e.recipient, e.millibips) for e in _entries(world, owner)]
        valid = sum(m for _, m in entries) <= FULL_SHARE and all(m > 0 for _, m in entries)
        if valid:
            text = table_to_toml(owner=owner, version=None, entries=entries)
        else:  # over 100%: the exporter refuses, so write it by hand (the import refuses)
            text = f'format = 1\nowner = "{owner}"\n' + "".join(
                f'\n[[entry]]\nrecipient = "{r}"\nmillibips = {m}\n' for r, m in entries
            )
        name, content = "faiross.toml", text.encode()
    elif r < 0.7:
        libs = world.rng.sample(PURLS, world.rng.randint(1, 4))
        name = "requirements.txt"
        content = "\n".join(p.removeprefix("pkg:pypi/") + ">=1.0" for p in libs).encode()
    elif r < 0.9:
        libs = world.rng.sample(PURLS, world.rng.randint(1, 3))
        deps = ", ".join(f'"{p.removeprefix("pkg:pypi/")}": "^1.0"' for p in libs)
        name, content = "package.json", ('{"name": "x", "dependencies": {' + deps + "}}").encode()
    else:
        name, content = world.pick(["faiross.toml", "package.json"]), b"\xff\x00 not a file"
    version, _warnings = tables.table_import_file(
        owner_key=owner,
        actor=actor,
        filename=name,
        content=content,
        share_millibips=world.rng.choice((0, 1_000_000, 5_000_000, FULL_SHARE)),
        policy=world.pick(["even", "even", "weighted", "nonsense"]),
    )
    return f"import {name} into {owner}: v{version.number} {version.status}"


def _steward_of(slug: str) -> Any:
    """The first steward (by username) of project ``slug``, or None."""
    m = (
        Membership.objects.filter(project__slug=slug, role=Membership.Role.STEWARD)
        .order_by("user__username")
        .select_related("user")
        .first()
    )
    return m.user if m else None


def member_leave(world: World) -> str:
    """A steward removes a member, or a member leaves (the last steward cannot)."""
    slug = world.pick(world.projects)
    if slug is None:
        return project_create(world)
    members = list(
        Membership.objects.filter(project__slug=slug)
        .order_by("user__username")
        .select_related("user", "project")
    )
    m = world.pick(members)
    if m is None:
        return f"{slug} has no members"
    steward = _steward_of(slug)
    actor = m.user if world.chance(0.5) or steward is None else steward
    project_services.membership_remove(project=m.project, actor=actor, user=m.user)
    return f"{m.user.username} leaves {slug} ({m.role})"


def invitation_other(world: World) -> str:
    """An invitation declined by its invitee or revoked by a steward (or by someone else:
    refused)."""
    slug = world.pick(world.projects)
    steward = _steward_of(slug) if slug else None
    if steward is None:
        return project_member_add(world)
    target = _actor(world)
    invitation = project_services.project_invite(
        project=Project.objects.get(slug=slug),
        actor=steward,
        target=target.username,
        role=world.pick(["steward", "maintainer"]),
    )
    if world.chance(0.5):
        project_services.invitation_decline(invitation=invitation, user=target)
        return f"{target.username} declines {slug}"
    actor = steward if world.chance(0.8) else target
    project_services.invitation_revoke(invitation=invitation, actor=actor)
    return f"invitation of {target.username} to {slug} revoked"


# --- the ombudsman: corrections, stewards, messages, evidence, appeals --------------------


def _seed_disputes(world: World, **filters: Any) -> list[Dispute]:
    return list(
        Dispute.objects.filter(pk__gt=world.baseline.get("dispute", 0), **filters)
        .select_related("project")
        .order_by("pk")
    )


def dispute_file_about_table(world: World) -> str:
    """A dispute about a project's active table version."""
    versions = list(
        TableVersion.objects.filter(
            status=TableVersion.Status.ACTIVE,
            table__owner_key__in=[project_key(p) for p in world.projects],
        ).order_by("table__owner_key")
    )
    version = world.pick(versions)
    if version is None:
        return table_propose(world)
    dispute_filing.dispute_file(
        filer=_actor(world),
        target=f"table_version:{version.pk}",
        kind="wrong_share",
        title="Simulated table dispute",
        description="This table is wrong (simulation).",
        links=["https://example.org/evidence"] if world.chance(0.5) else [],
    )
    return "dispute about a table filed"


def table_correct(world: World) -> str:
    dispute = world.pick(_seed_disputes(world, status__in=("open", "in_review", "appealed")))
    if dispute is None or not dispute.disputed_table:
        return dispute_file_about_table(world)
    owner = dispute.disputed_table
    entries = _entries(world, owner)
    version = dispute_corrections.table_correct(
        dispute=dispute, actor=_ombudsman(world), entries=entries, reason="Simulated correction."
    )
    return f"ombudsman corrects {owner}: v{version.number} {version.status}"


def stewards_set(world: World) -> str:
    dispute = world.pick(
        [
            d
            for d in _seed_disputes(world, status__in=("open", "in_review", "appealed"))
            if d.project is not None
        ]
    )
    if dispute is None or not world.users:
        return dispute_file_about_table(world)
    assert dispute.project is not None
    names = sorted(set(world.rng.sample(world.users, min(len(world.users), 2))))
    if world.chance(0.1):
        names = ["nobody-here"]  # refused: no such user
    after = dispute_corrections.project_stewards_set(
        dispute=dispute,
        actor=_ombudsman(world),
        project=dispute.project,
        stewards=names[: world.rng.randint(1, len(names))],
        reason="Simulated change of stewards.",
        former=world.pick(["maintainer", "remove"]),
    )
    return f"stewards of {dispute.project.slug}: {', '.join(after)}"


def _evidence_file(world: World) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    kind = world.pick(["pdf", "png", "txt", "exe"])
    content = {
        "pdf": b"%PDF-1.4\n% simulated\n",
        "png": b"\x89PNG\r\n\x1a\n" + bytes(16),
        "txt": b"simulated evidence\n",
        "exe": b"MZ\x90\x00\x03",  # refused: not an accepted type
    }[kind]
    return SimpleUploadedFile(f"evidence.{kind}", content)


def dispute_message(world: World) -> str:
    """A party or an ombudsman writes on a dispute, with links and files."""
    dispute = world.pick(_seed_disputes(world))
    if dispute is None:
        return dispute_file_about_table(world)
    parties = _party_users(dispute)
    author = world.pick(parties) if parties and world.chance(0.7) else None
    if author is None:
        author = _ombudsman(world) if world.chance(0.7) else _actor(world)  # else: refused
    links = ["https://example.org/proof"] if world.chance(0.3) else []
    if world.chance(0.05):
        links = ["javascript:alert(1)"]  # refused
    files = [_evidence_file(world)] if world.chance(0.3) else []
    dispute_filing.dispute_respond(
        dispute=dispute, author=author, body="A simulated message.", links=links, files=files
    )
    return f"message by {author.username} ({len(links)} links, {len(files)} files)"


def _party_users(dispute: Dispute) -> list[Any]:
    rows = dispute.parties.exclude(user=None).select_related("user").order_by("user__username")
    return [p.user for p in rows]


def _ombudsman(world: World) -> Any:
    return world.ombudsman if world.chance(0.6) else world.ombudsman2


def appeal_file(world: World) -> str:
    dispute = world.pick(_seed_disputes(world, status__in=("resolved", "appealed")))
    if dispute is None:
        return dispute_resolve(world)
    parties = _party_users(dispute)
    appellant = world.pick(parties) if parties and world.chance(0.9) else _actor(world)
    dispute_appeals.appeal_file(dispute=dispute, appellant=appellant, reason="I disagree.")
    return f"{appellant.username} appeals"


def appeal_decide(world: World) -> str:
    dispute = world.pick(_seed_disputes(world, status="appealed"))
    if dispute is None:
        return appeal_file(world)
    decision = world.pick(["confirmed", "overturned"])
    dispute_appeals.appeal_decide(
        dispute=dispute,
        actor=_ombudsman(world),  # the first resolver: refused
        decision=decision,
        text="Simulated decision.",
        outcome=world.pick(["upheld", "rejected", "settled"]) if decision == "overturned" else "",
    )
    return f"appeal {decision}"


# --- Stripe: reversals, account updates -----------------------------------------------------


def transfer_reverse(world: World) -> str:
    """Stripe reverses (part of) a sent payout's transfer, e.g. the bank returned it; the
    ``transfer.reversed`` webhook books it, delivered now or with the others later."""
    payout = world.pick(
        list(
            Payout.objects.filter(
                status=Payout.Status.SENT, pk__gt=world.baseline.get("payout", 0)
            ).order_by("pk")
        )
    )
    if payout is None:
        return payout_run(world)
    client = _stripe()
    transfer = client.v1.transfers.retrieve(payout.stripe_transfer_id)
    left = int(transfer.amount) - int(transfer.amount_reversed or 0)
    if left <= 0:
        return "already reversed"
    params = {} if world.chance(0.5) else {"amount": world.rng.randint(1, left)}
    client.v1.transfers.reversals.create(payout.stripe_transfer_id, params=params)
    if world.chance(0.5):
        webhooks_deliver(world)
    return f"transfer of payout reversed ({params.get('amount', left)} of {transfer.amount})"


# The operations and their weights (how often each is drawn).
OPERATIONS: tuple[tuple[Callable[[World], str], int], ...] = (
    (user_create, 6),
    (project_create, 5),
    (project_member_add, 3),
    (company_create, 3),
    (table_propose, 10),
    (table_closed_cycle, 2),
    (table_approve, 4),
    (table_withdraw, 2),
    (agreement_create, 4),
    (agreement_advance, 2),
    (dividend_declare, 6),
    (invoice_pay_wire, 3),
    (invoice_pay_checkout, 4),
    (webhooks_deliver, 2),
    (inflow_wire, 8),
    (distribution_run, 6),
    (distribution_resume, 2),
    (identity_claim, 4),
    (escrow_return, 1),
    (connect_onboard, 9),
    (payout_run, 7),
    (payouts_retry, 3),
    (dispute_hold, 4),
    (hold_release, 2),
    (hold_redirect, 2),
    (dispute_resolve, 2),
    (pledge_invoices_issue, 3),
    (carry_distribution, 2),
    (milestone_met, 1),
    (liquidity_event, 2),
    (agreement_end, 1),
    (invoice_void, 1),
    (checkout_expire, 2),
    (table_import, 3),
    (member_leave, 1),
    (invitation_other, 1),
    (dispute_file_about_table, 2),
    (table_correct, 2),
    (stewards_set, 1),
    (dispute_message, 2),
    (appeal_file, 1),
    (appeal_decide, 1),
    (transfer_reverse, 2),
)


# --- ownership verification, reserve grants ----------------------------------------------


def project_verify(world: World) -> str:
    """Staff verify a project by hand (the admin action and the staff API call this), with
    a note; sometimes without a note, or an unclaimed placeholder (refused)."""
    from projects.verification import services as verification

    slugs = list(
        Project.objects.filter(slug__in=world.projects, verified_at__isnull=True)
        .order_by("slug")
        .values_list("slug", flat=True)
    )
    if world.chance(0.1):
        slugs = list(
            Project.objects.filter(status=Project.Status.UNCLAIMED)
            .order_by("slug")
            .values_list("slug", flat=True)
        )
    slug = world.pick(slugs)
    if slug is None:
        return project_create(world)
    note = "simulated check of the repository" if world.chance(0.9) else ""
    verification.project_verify_by_staff(
        project=Project.objects.get(slug=slug), staff=world.staff, note=note
    )
    return f"{slug} verified by staff"


def reserve_grant(world: World) -> str:
    """Stewards grant money from a project's reserve to a member or another project (by the
    table's quorum): propose, then approve, reject or withdraw; sometimes more than the
    reserve holds, or from an unverified project (refused)."""
    from payouts import reserves
    from payouts.models import ReserveGrant

    pending = list(
        ReserveGrant.objects.filter(
            project__slug__in=world.projects, status=ReserveGrant.Status.PROPOSED
        )
        .select_related("project")
        .order_by("pk")
    )
    if pending and world.chance(0.5):
        grant = world.pick(pending)
        members = list(
            Membership.objects.filter(project=grant.project)
            .order_by("user__username")
            .select_related("user")
        )
        actor = world.pick(members).user if members else _actor(world)
        how = world.pick(["approve", "approve", "reject", "withdraw"])
        grant = getattr(reserves, f"reserve_grant_{how}")(grant=grant, actor=actor)
        return f"{how} grant of {grant.project.slug}: {grant.status}"
    slug = world.pick(world.projects)
    steward = _steward_of(slug) if slug else None
    if steward is None:
        return "no steward to grant"
    balances = reserves.reserve_balances(slug=slug)
    currency = world.pick(sorted(balances)) if balances else world.currency()
    balance = balances.get(currency, 0)
    amount = world.rng.choice((1, max(1, balance // 3), max(1, balance), balance + 1))
    names: list[str] = [
        str(name)
        for name in Membership.objects.filter(project__slug=slug)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    ]
    if world.chance(0.5) and names:
        to = user_key(world.pick(names))
    else:
        to = project_key(world.pick([p for p in world.projects if p != slug] or [slug]))
    grant = reserves.reserve_grant_propose(
        project=Project.objects.get(slug=slug),
        actor=steward,
        recipient=to,
        amount=amount,
        currency=currency,
        reason="Simulated grant.",
    )
    return f"grant {amount}/{balance} {currency} from {slug} to {to}: {grant.status}"


OPERATIONS += ((project_verify, 5), (reserve_grant, 3))
