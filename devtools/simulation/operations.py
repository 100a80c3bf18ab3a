"""One function per operation, each driving the real services (what views, API and tasks call).

Every operation takes the :class:`~devtools.simulation.world.World`, makes its random choices
from ``world.rng`` and returns a short description for the operation log (names the
simulation gave, never database ids). Expected refusals (``ValidationError``,
``PermissionDenied``, a run already in progress) propagate to the runner, which counts them
as outcomes; anything else is a crash and reported as a violation.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from companies.models import Agreement, Company, Invoice
from companies.services import agreements as agreement_services
from companies.services import billing, payments
from companies.services import companies as company_services
from disputes.models import Dispute, Hold
from disputes.services import appeals as dispute_appeals
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
from payouts.selectors import account_balance
from projects.cycles import ClosedCycleError
from projects.models import Membership, Project, TableVersion
from projects.services import projects as project_services
from projects.services import tables

from .world import CURRENCIES, EMAILS, GITHUB_LOGINS, PURLS, Kill, World

SUCCESS_URL = "https://faiross.test/paid/?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://faiross.test/cancel/"


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
    steward = (
        Membership.objects.filter(project=project, role=Membership.Role.STEWARD)
        .order_by("user__username")
        .select_related("user")
        .first()
    )
    if steward is None:
        return f"{slug} has no steward"
    target = _actor(world)
    role = world.pick(["steward", "maintainer"])
    invitation = project_services.project_invite(
        project=project, actor=steward.user, target=target.username, role=role
    )
    project_services.invitation_accept(invitation=invitation, user=target)
    return f"{target.username} joins {slug} as {role}"


def company_create(world: World) -> str:
    creator = _actor(world)
    slug = world.next_name(f"s{world.seed}c")
    company_services.company_create(creator=creator, slug=slug, name=f"Company {slug}")
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
        steward = (
            Membership.objects.filter(project__slug=src, role=Membership.Role.STEWARD)
            .order_by("user__username")
            .select_related("user")
            .first()
        )
        if steward is None:
            return f"{src} has no steward"
        try:
            v = tables.table_propose(
                owner_key=project_key(src),
                actor=steward.user,
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


def agreement_create(world: World) -> str:
    found = _company(world)
    if found is None:
        return company_create(world)
    company, owner = found
    share = world.rng.choice((1, 7, 100_000, 333_333, 1_000_000, 5_000_000))
    if world.chance(0.05):
        share = 6_000_000  # refused: above the maximum share
    a = agreement_services.agreement_create(
        company=company,
        actor=owner,
        kind="dividend",
        terms_data={
            "share_millibips": share,
            "currency": world.currency(),
            "start_date": world.now.date(),
        },
    )
    if world.chance(0.8):
        agreement_services.agreement_sign(
            agreement=a, actor=owner, ip_address="10.0.0.1", user_agent="simulate"
        )
        if world.chance(0.8):
            agreement_services.agreement_countersign(agreement=a, staff=world.staff)
    return f"dividend agreement of {company.slug} at {share} millibips"


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
    a = world.pick(_agreements(world, "active"))
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
            .order_by("company__slug", "source_key")
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


def _event_key(event: Any) -> tuple[str, str, str]:
    obj = event["data"]["object"]
    meta = obj.get("metadata") or {}
    return (
        str(meta.get("faiross_invoice") or meta.get("faiross_payout") or ""),
        str(event["type"]),
        str(obj.get("object", "")),
    )


def webhooks_deliver(world: World) -> str:
    """Deliver the server's payment and transfer events in a random order, some twice, as the
    webhook endpoint does after verifying the signature (record once, process)."""
    client = _stripe()
    events = [
        e.to_dict()
        for e in client.v1.events.list(params={"limit": 100}).auto_paging_iter()
        if e.type
        in (
            "checkout.session.completed",
            "payment_intent.succeeded",
            "transfer.created",
            "charge.succeeded",
        )
    ]
    events.sort(key=_event_key)  # server order (real time, random ids) is not reproducible
    world.rng.shuffle(events)
    chosen = [e for e in events if world.chance(0.7)]
    chosen += [e for e in chosen if world.chance(0.2)]  # replays
    for event in chosen:
        record, _ = webhooks.stripe_event_record(event=event)
        webhooks.stripe_event_process(event_id=record.event_id)
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
    account = connect_accounts.connected_account_refresh(account=account)
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
    from payouts.models import Account

    out = []
    owners = [user_key(u) for u in world.users] + [project_key(p) for p in world.projects]
    owners += [f"github:{g}" for g in GITHUB_LOGINS] + [f"email:{e}" for e in EMAILS]
    for owner in owners:
        purpose = dispute_holds.default_source(owner)
        for currency in CURRENCIES:
            if not Account.objects.filter(owner=owner, purpose=purpose, currency=currency).exists():
                continue
            balance = account_balance(owner=owner, purpose=purpose, currency=currency)
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
        actor=world.ombudsman,
        outcome=world.pick(["upheld", "rejected", "settled"]),
        resolution="Simulated resolution.",
    )
    return "dispute resolved"


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
)

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    runs.RunInProgress,
    transfers.PayoutRunInProgress,
    ClosedCycleError,
)
