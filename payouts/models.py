"""The ledger (double entry, append-only) and the money path's records.

Conventions: every amount is an integer count of the currency's minor unit; currencies are
lower-case ISO 4217 codes. Accounts are signed: what FairOSS holds for someone is positive,
the counter-accounts money came from (a company's ``contributed``) are negative, so the
postings of every transaction, and of the whole ledger, sum to zero per currency.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from faiross.kernel.model_fields import actor_fk, user_fk
from faiross.kernel.money import money_format


class Account(models.Model):
    class Purpose(models.TextChoices):
        POOL = "pool", "Inflow pool (received, not yet distributed)"
        CONTRIBUTED = "contributed", "Contributed by a company"
        AVAILABLE = "available", "Available to pay out"
        ESCROW = "escrow", "Escrow, waiting to be claimed"
        RESERVE = "reserve", "Project reserve"
        HELD = "held", "Held by the ombudsman"
        IN_TRANSIT = "in_transit", "Payout in transit"
        PAID_OUT = "paid_out", "Paid out"
        BOUNTY = "bounty", "Bounty held for a feature request"

    owner = models.CharField(
        max_length=300,
        help_text="A recipient (user:, github:, email:, project:), company:, or platform",
    )
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner", "purpose", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "purpose", "currency"], name="account_unique_owner_purpose"
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="account_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner}/{self.purpose}/{self.currency}"


class LedgerTransaction(models.Model):
    """One balanced movement of money. Never updated or deleted (database triggers)."""

    class Kind(models.TextChoices):
        INFLOW = "inflow", "Inflow received"
        DISTRIBUTION = "distribution", "Distribution run"
        PAYOUT = "payout", "Payout started"
        PAYOUT_CONFIRMED = "payout_confirmed", "Payout confirmed"
        PAYOUT_FAILED = "payout_failed", "Payout failed"
        CLAIM = "claim", "Escrow claimed"
        ESCROW_RETURN = "escrow_return", "Unclaimed escrow returned"
        HOLD = "hold", "Hold"
        RELEASE = "release", "Hold released"
        REDIRECT = "redirect", "Held money redirected"
        REVERSAL = "reversal", "Reversal"
        RESERVE_GRANT = "reserve_grant", "Grant from a project reserve"
        BOUNTY = "bounty", "Feature-request bounty"

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reference = models.CharField(max_length=200, help_text="What caused it, e.g. inflow:12")
    memo = models.TextField(blank=True)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["reference"], name="ledgertxn_reference")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.reference}"


class Posting(models.Model):
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="postings"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["transaction", "id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="posting_nonzero")
        ]
        indexes = [
            # Balances are summed, never stored: this index answers them.
            models.Index(fields=["account", "amount"], name="posting_account_amount"),
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"{self.account}: {money}"


class Inflow(models.Model):
    """Money actually received for a company (a wire recorded by staff, a paid invoice)."""

    class Source(models.TextChoices):
        WIRE = "wire", "Wire (recorded by staff)"
        STRIPE = "stripe", "Stripe payment"

    company = models.ForeignKey(
        "companies.Company", on_delete=models.PROTECT, related_name="inflows"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=200, unique=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WIRE)
    received_at = models.DateTimeField()
    recorded_by = actor_fk()
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="inflow"
    )
    run = models.ForeignKey(
        "DistributionRun", null=True, blank=True, on_delete=models.PROTECT, related_name="inflows"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="inflow_positive")
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"{money} from {self.company} ({self.reference})"


class DistributionRun(models.Model):
    """A staged, restartable distribution: snapshot → compute → post → done."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SNAPSHOT = "snapshot", "Snapshot taken"
        COMPUTED = "computed", "Computed"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    cutoff = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    started_by = actor_fk()
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # True while unfinished, NULL once done or failed; unique, so runs never overlap.
    is_open = models.BooleanField(null=True, default=True, editable=False)
    progress = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    snapshot = models.JSONField(null=True, blank=True, help_text="Tables and inflows used")
    totals = models.JSONField(null=True, blank=True, help_text="{currency: total} distributed")
    report = models.JSONField(null=True, blank=True, help_text="Figures for the report page")

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one run is unfinished at any time: two runs can never overlap.
            models.UniqueConstraint(fields=["is_open"], name="distributionrun_one_open"),
            models.CheckConstraint(
                condition=(
                    models.Q(is_open=True, status__in=["pending", "snapshot", "computed"])
                    | models.Q(is_open__isnull=True, status__in=["done", "failed"])
                ),
                name="distributionrun_open_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class RunAllocation(models.Model):
    """One final recipient's amount in one run and currency (the computed result)."""

    run = models.ForeignKey(DistributionRun, on_delete=models.CASCADE, related_name="allocations")
    recipient = models.CharField(max_length=300)
    purpose = models.CharField(max_length=12, choices=Account.Purpose.choices)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["run", "-amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "recipient", "purpose", "currency"], name="runallocation_unique"
            )
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"{self.recipient}: {money}"


class ClaimedIdentity(models.Model):
    """An identity (``github:<login>``, ``email:<address>``) proven by a FairOSS user.

    Once claimed, distributions credit the user directly and escrow moves to them.
    """

    identity = models.CharField(max_length=300, unique=True)
    user = user_fk("claimed_identities")
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["identity"]
        verbose_name_plural = "claimed identities"

    def __str__(self) -> str:
        return f"{self.identity} → {self.user}"


# --- payouts: Stripe Connect accounts, tax forms, payout runs and payouts (issue 6) ----------


class ConnectedAccount(models.Model):
    """A person's Stripe Connect (Express) account; refreshed from Stripe and webhooks."""

    class Status(models.TextChoices):
        ONBOARDING = "onboarding", "Onboarding incomplete"
        ENABLED = "enabled", "Payouts enabled"
        RESTRICTED = "restricted", "Restricted"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="connected_account"
    )
    stripe_account_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ONBOARDING)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    transfers_active = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=200, blank=True)
    currently_due = models.JSONField(default=list, blank=True)
    payout_threshold = models.BigIntegerField(
        null=True, blank=True, help_text="Minor units; empty means the configured default"
    )
    # The Stripe `created` time of the last account.updated event applied (order tolerance).
    stripe_updated_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.stripe_account_id} ({self.get_status_display()})"

    @property
    def can_receive(self) -> bool:
        return self.status == self.Status.ENABLED and self.transfers_active


def private_storage():  # type: ignore[no-untyped-def]
    """Files only staff and their owner may read (never under MEDIA_URL)."""
    from django.core.files.storage import storages

    return storages["private"]


def tax_form_path(instance: TaxForm, filename: str) -> str:
    import uuid

    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"tax-forms/{instance.user_id}/{uuid.uuid4().hex}.{suffix}"


class TaxForm(models.Model):
    """A tax form (W-9 / W-8BEN) collected from a person, recorded by staff."""

    class Kind(models.TextChoices):
        W9 = "w9", "W-9"
        W8BEN = "w8ben", "W-8BEN"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tax_form"
    )
    kind = models.CharField(max_length=6, choices=Kind.choices)
    collected = models.BooleanField(default=False, help_text="The signed form is on file")
    collected_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    recorded_by = actor_fk()
    updated_at = models.DateTimeField(auto_now=True)
    # The signed form the person uploaded from their earnings page: private storage, read by
    # staff in admin, who then mark it collected.
    document = models.FileField(upload_to=tax_form_path, storage=private_storage, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        state = "collected" if self.collected else "not collected"
        return f"{self.get_kind_display()} of {self.user}: {state}"


class PayoutRun(models.Model):
    """One pass over every balance: creates the payouts and hands them to the task queue."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_by = actor_fk()
    # True while running, NULL afterwards; unique, so payout runs never overlap.
    is_open = models.BooleanField(null=True, default=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_open"], name="payoutrun_one_open"),
        ]

    def __str__(self) -> str:
        return f"payout run {self.pk} ({self.status})"


class Payout(models.Model):
    """One Stripe transfer of a person's available balance.

    The row comes first (with the ledger's available → in_transit), then exactly one Stripe
    transfer whose idempotency key and transfer group derive from the row id, then
    in_transit → paid_out (sent) or in_transit → available (failed, with the reason).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    user = user_fk("payouts")
    recipient = models.CharField(max_length=300)
    run = models.ForeignKey(
        PayoutRun, null=True, blank=True, on_delete=models.PROTECT, related_name="payouts"
    )
    destination = models.CharField(max_length=255, help_text="Stripe connected account id")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=100, blank=True)
    key_since = models.DateTimeField(help_text="The current idempotency key is used since then")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failure_reason = models.TextField(blank=True)
    stripe_transfer_id = models.CharField(max_length=255, blank=True)
    amount_reversed = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_positive"),
            # One payout in flight per person and currency.
            models.UniqueConstraint(
                fields=["recipient", "currency"],
                condition=models.Q(status="pending"),
                name="payout_one_pending",
            ),
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"payout {self.pk}: {money} to {self.recipient} ({self.status})"

    @property
    def transfer_group(self) -> str:
        return f"payout-{self.pk}"


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored once (by its id) and processed once."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not used)"
        NO_HANDLER = "no_handler", "No handler yet"
        FAILED = "failed", "Failed (will be retried)"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    account = models.CharField(max_length=255, blank=True, help_text="Connect: the account")
    livemode = models.BooleanField(default=False)
    stripe_created = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    deliveries = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.status})"


class Notification(models.Model):
    """An email sent once: its key (e.g. ``payout:12:sent``) is inserted before sending."""

    key = models.CharField(max_length=300, unique=True)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.key} → {self.to}"


class ReserveGrant(models.Model):
    """Money a project's stewards grant from its reserve to a member or another project,
    executed as one ledger transaction once the table's quorum approved it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for approvals"
        EXECUTED = "executed", "Granted"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="reserve_grants"
    )
    recipient = models.CharField(max_length=300, help_text="user:<name> or project:<slug>")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.TextField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = actor_fk()
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    transaction = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="reservegrant_positive")
        ]

    def __str__(self) -> str:
        return f"grant #{self.pk} from {self.project} to {self.recipient}"


class ReserveGrantApproval(models.Model):
    grant = models.ForeignKey(ReserveGrant, on_delete=models.CASCADE, related_name="approvals")
    user = user_fk()
    approve = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["grant", "user"], name="reservegrantapproval_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} {'approves' if self.approve else 'rejects'} {self.grant}"


# --- verifiable runs and open data (issue 12, docs/verifiable-runs.md) -----------------------


class RunPublication(models.Model):
    """What a done run publishes: the SHA-256 of its snapshot and one Merkle root per currency
    over its allocations (scheme in docs/verifiable-runs.md). ``merkle_chunks`` keeps, per
    currency, the hashes of the subtrees of ``size`` leaves and the first (recipient, purpose)
    of each, so one person's proof is built from one chunk; it names recipients, so it is
    never shown. Written once by ``payouts.distribution.publish``; derived data, so
    ``manage.py run_publish`` can write it again for a run done before it existed."""

    run = models.OneToOneField(
        DistributionRun, on_delete=models.CASCADE, related_name="publication"
    )
    scheme = models.PositiveSmallIntegerField(default=1)
    snapshot_sha256 = models.CharField(max_length=64)
    merkle_roots = models.JSONField(default=dict, blank=True, help_text="{currency: hex}")
    leaf_count = models.JSONField(default=dict, blank=True, help_text="{currency: leaves}")
    merkle_chunks = models.JSONField(default=dict, blank=True, editable=False)
    flows_match_allocations = models.BooleanField(
        default=True,
        help_text="What each project, company and package keeps in the flows equals its "
        "allocation (else it is within 2 cents: the flows still add up exactly)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-run_id"]

    def __str__(self) -> str:
        return f"publication of run {self.run_id}"


class RunFlow(models.Model):
    """One project-level hop of a done run's money, in one currency: ``inflows`` → a company,
    a project's released ``(escrow)`` → the project, node → node, and node → where the money
    stays (``<key> (<purpose>)``, or ``people``: every person it paid, summed). Public."""

    run = models.ForeignKey(DistributionRun, on_delete=models.CASCADE, related_name="flows")
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=320)
    target = models.CharField(max_length=320)
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["run", "currency", "source", "target"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "currency", "source", "target"], name="runflow_unique"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="runflow_positive"),
        ]
        indexes = [
            models.Index(fields=["run", "target"], name="runflow_run_target"),
            # A project page asks for the flows out of the project too (payouts/project_money.py).
            models.Index(fields=["run", "source"], name="runflow_run_source"),
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"run {self.run_id}: {self.source} → {self.target}: {money}"


# --- explore: what each project received (issue 12, payouts/totals.py) -------------------------


class ProjectReceived(models.Model):
    """What reached one project through done runs, in one currency: ``funder`` is ``""`` for
    every source together (the project's total, what the explore page sorts and filters by)
    or ``company:<slug>`` for what that company's own table sent it directly. Derived from
    the runs' public flows (``RunFlow``) by ``payouts.totals.project_received_add`` when a
    run is done, so a page never sums flows; project-level money, so public."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="received_totals"
    )
    funder = models.CharField(max_length=320, blank=True)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["project", "funder", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "funder", "currency"], name="projectreceived_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="projectreceived_positive"
            ),
        ]
        indexes = [
            # "Most received first" and "funded by": read in this order, stopped at a page.
            models.Index(
                fields=["funder", "currency", "-amount", "project"], name="projectreceived_rank"
            )
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"{self.project_id} from {self.funder or 'all'}: {money}"


class ProjectReceivedRun(models.Model):
    """A done run whose flows are counted in ``ProjectReceived``: counting a run twice is
    refused by this row's primary key (money rule 4 for derived totals)."""

    run = models.OneToOneField(
        DistributionRun, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    counted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"received totals of run {self.run_id}"


class TraceEdge(models.Model):
    """What one node of a done run paid one person, in one currency: the exact flow on the
    node's entries naming the person (or identities the person claimed), in integer minor
    units. A person's edges add up exactly to their allocation in the run. Node-to-node hops
    are the run's :class:`RunFlow` rows; together they give the trace of any credit
    (:mod:`payouts.distribution.trace`). Private: shown only as a person's own trace."""

    run = models.ForeignKey(
        DistributionRun, on_delete=models.CASCADE, related_name="trace_edges", db_index=False
    )
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=320)
    recipient = models.CharField(max_length=320)
    amount = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="traceedge_positive")
        ]
        indexes = [
            models.Index(fields=["run", "recipient"], name="traceedge_run_recipient"),
            models.Index(fields=["run", "source"], name="traceedge_run_source"),
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"run {self.run_id}: {self.source} → {self.recipient}: {money}"


class GraphCache(models.Model):
    """Which file on the computing host holds the last compiled run graph, and its SHA-256
    (see :mod:`payouts.distribution.graph_cache`). At most one row; a speed-up only."""

    token = models.CharField(max_length=32, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"graph cache {self.token}"
