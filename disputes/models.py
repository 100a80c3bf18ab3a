"""The ombudsman office: disputes, their parties and conversation, holds, appeals, audit trail.

Rows here are written only by :mod:`disputes.services`. :class:`AuditEvent` is append-only:
PostgreSQL (and SQLite) triggers refuse every UPDATE and DELETE of it (migration 0002).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.urls import reverse

from faiross.kernel.model_fields import user_fk
from faiross.kernel.money import money_format
from faiross.kernel.recipients import project_key


def _ledger_transaction_fk(related_name: str) -> models.OneToOneField:
    """The ledger transaction that moved the money, if any moved."""
    return models.OneToOneField(
        "payouts.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name=related_name,
    )


class Dispute(models.Model):
    class Kind(models.TextChoices):
        MISSING_CREDIT = "missing_credit", "Missing credit: I did the work and I'm not on the table"
        WRONG_SHARE = "wrong_share", "Wrong share or wrong recipient on a table"
        GOVERNANCE = "governance", "Governance: a steward or maintainer should not be one"
        OWNERSHIP = "ownership", "Ownership: the project claim is not theirs"
        PAYOUT = "payout", "Payout went to the wrong account or is missing"
        AGREEMENT = "agreement", "Agreement not honoured (e.g. equity diluted)"
        DISTRIBUTION = "distribution", "Distribution line is wrong"
        OTHER = "other", "Other"

    class TargetType(models.TextChoices):
        TABLE_ENTRY = "table_entry", "Share-table entry"
        TABLE_VERSION = "table_version", "Share-table version"
        PROJECT = "project", "Project ownership or governance"
        AGREEMENT = "agreement", "Agreement"
        PAYOUT = "payout", "Payout"
        DISTRIBUTION_LINE = "distribution_line", "Distribution line"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_REVIEW = "in_review", "In review"
        RESOLVED = "resolved", "Resolved"
        APPEALED = "appealed", "Appealed"
        CLOSED = "closed", "Closed (final)"

    class Outcome(models.TextChoices):
        UPHELD = "upheld", "Upheld"
        REJECTED = "rejected", "Rejected"
        SETTLED = "settled", "Settled"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    title = models.CharField(max_length=200)
    description = models.TextField(max_length=10_000)
    # What it is about: a generic target, so agreements and payouts need no foreign key.
    target_type = models.CharField(max_length=20, choices=TargetType.choices)
    target_id = models.CharField(max_length=300)
    target_label = models.CharField(max_length=300, help_text="How the target read when filed")
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disputes",
        help_text="The project whose table or governance is disputed, if any",
    )
    table_owner = models.CharField(
        max_length=120, blank=True, help_text="Owner key of the disputed share table, if any"
    )
    recipient = models.CharField(
        max_length=300, blank=True, help_text="The recipient whose money is at stake, if any"
    )
    amount_at_stake = models.BigIntegerField(null=True, blank=True, help_text="Minor units")
    currency = models.CharField(max_length=3, blank=True)
    filed_by = user_fk("disputes_filed")
    assigned_to = user_fk("disputes_assigned", optional=True)
    deadline = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    resolution = models.TextField(blank=True)
    resolved_by = user_fk("disputes_resolved", optional=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("act_as_ombudsman", "Can act as ombudsman on disputes")]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="dispute_target"),
            models.Index(fields=["table_owner", "status"], name="dispute_table_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_at_stake__isnull=True)
                | (models.Q(amount_at_stake__gt=0) & ~models.Q(currency="")),
                name="dispute_stake_positive_with_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute #{self.pk}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("disputes:detail", kwargs={"pk": self.pk})

    @property
    def target(self) -> str:
        return f"{self.target_type}:{self.target_id}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.IN_REVIEW, self.Status.APPEALED)

    @property
    def disputed_table(self) -> str:
        """Owner key of the share table this dispute concerns: the disputed table, else the
        project's own table; empty when it concerns none."""
        return self.table_owner or (
            project_key(self.project.slug) if self.project is not None else ""
        )


class DisputeParty(models.Model):
    """Someone concerned: notified by email; a party with an account can read and respond."""

    class Role(models.TextChoices):
        FILER = "filer", "Filer"
        STEWARD = "steward", "Project steward"
        RECIPIENT = "recipient", "Named recipient"
        COMPANY_OWNER = "company_owner", "Company owner"

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="parties")
    user = user_fk("dispute_parties", optional=True)
    email = models.EmailField(blank=True, help_text="For a party without an account")
    role = models.CharField(max_length=14, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dispute", "id"]
        verbose_name_plural = "dispute parties"
        constraints = [
            models.UniqueConstraint(
                fields=["dispute", "user"],
                condition=models.Q(user__isnull=False),
                name="disputeparty_unique_user",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(email=""),
                name="disputeparty_has_contact",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.email} ({self.role})"


class DisputeText(models.Model):
    """What someone wrote on a dispute, in the order written (abstract: no table)."""

    author = user_fk()
    body = models.TextField(max_length=10_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["dispute", "created_at", "id"]


class DisputeMessage(DisputeText):
    """The conversation that the filer, the parties and the ombudsmen see."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="messages")
    from_ombudsman = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"message {self.pk} by {self.author} on #{self.dispute_id}"


class InternalNote(DisputeText):
    """An ombudsman's note: never shown to the filer or the parties."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="notes")

    def __str__(self) -> str:
        return f"note {self.pk} on #{self.dispute_id}"


def evidence_path(instance: Evidence, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"disputes/{instance.dispute_id}/{secrets.token_hex(16)}.{ext}"


class Evidence(models.Model):
    """A link or a checked file (size and type) attached to a dispute or a message.

    Files are served only through ``disputes:evidence``, which checks who may see the dispute.
    """

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="evidence")
    message = models.ForeignKey(
        DisputeMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence"
    )
    url = models.URLField(max_length=500, blank=True)
    file = models.FileField(upload_to=evidence_path, blank=True, max_length=200)
    filename = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40, blank=True)
    size = models.PositiveIntegerField(default=0)
    added_by = user_fk()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dispute", "id"]
        verbose_name_plural = "evidence"
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(url="") & ~models.Q(file=""))
                | (~models.Q(url="") & models.Q(file="")),
                name="evidence_link_or_file",
            )
        ]

    def __str__(self) -> str:
        return self.url or self.filename


class Hold(models.Model):
    """Money of one recipient frozen for a dispute: ``source`` → ``held`` in the ledger.

    ``remaining`` is what is still held; it falls by releases and redirects (each a
    :class:`HoldMovement` with its ledger transaction). While any hold of a recipient is
    active, the recipient is not paid out (money rule 7). A hold of 0 is a freeze: nothing
    moves in the ledger, but payouts stop.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="holds")
    recipient = models.CharField(max_length=300, db_index=True)
    source = models.CharField(max_length=12, help_text="Ledger purpose the money came from")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    reason = models.TextField()
    placed_by = user_fk()
    ledger_transaction = _ledger_transaction_fk("dispute_hold")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "status"], name="hold_recipient_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="hold_amount_nonneg"),
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0) & models.Q(remaining__lte=models.F("amount")),
                name="hold_remaining_range",
            ),
        ]

    def __str__(self) -> str:
        held = money_format(amount=self.remaining, currency=self.currency)
        return f"hold {self.pk}: {held} of {self.recipient} still held"


class HoldMovement(models.Model):
    """A release of held money back to its source, or a redirect to another recipient."""

    class Kind(models.TextChoices):
        RELEASE = "release", "Released"
        REDIRECT = "redirect", "Redirected"

    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.BigIntegerField()
    to_recipient = models.CharField(max_length=300)
    to_purpose = models.CharField(max_length=12)
    reason = models.TextField()
    actor = user_fk()
    ledger_transaction = _ledger_transaction_fk("dispute_hold_movement")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hold", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} to {self.to_recipient}"


class Appeal(models.Model):
    """A party's one appeal against a resolution, decided by a different ombudsman."""

    class Decision(models.TextChoices):
        CONFIRMED = "confirmed", "Resolution confirmed"
        OVERTURNED = "overturned", "Resolution overturned"

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="appeals")
    appellant = user_fk()
    reason = models.TextField(max_length=10_000)
    assigned_to = user_fk("appeals_assigned", optional=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    decision_text = models.TextField(blank=True)
    decided_by = user_fk(optional=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dispute", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "appellant"], name="appeal_one_per_party")
        ]

    def __str__(self) -> str:
        return f"appeal by {self.appellant} on #{self.dispute_id}"


class AuditEvent(models.Model):
    """One step on the record. Append-only: the database refuses UPDATE and DELETE.

    The actor is kept by id and name (not a foreign key), so deleting a user never needs
    to touch the trail.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    target = models.CharField(max_length=300, db_index=True, help_text="e.g. dispute:4, hold:2")
    dispute = models.ForeignKey(
        Dispute,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="audit_events",
    )
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    internal = models.BooleanField(
        default=False, help_text="Shown to ombudsmen only (internal notes), never to parties"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action}"
