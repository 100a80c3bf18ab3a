from __future__ import annotations

from django.conf import settings
from django.db import models

from faiross.kernel.model_fields import actor_fk, user_fk
from faiross.kernel.money import money_format
from faiross.kernel.recipients import company_key
from projects.models import InvitationBase, MemberBase, slug_validator


class Company(models.Model):
    """A company (or VC fund) that pledges or shares value with FairOSS.

    Its share table has the owner key ``company:<slug>``; its money enters the graph there.
    """

    class Kind(models.TextChoices):
        STARTUP = "startup", "Startup"
        MATURE = "mature", "Mature company"
        VC_FUND = "vc_fund", "VC fund"

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField("legal name", max_length=200)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code")
    website = models.URLField(max_length=300, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STARTUP)
    require_mfa = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = actor_fk()

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name

    @property
    def owner_key(self) -> str:
        return company_key(self.slug)


class CompanyMember(MemberBase):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        FINANCE = "finance", "Finance"
        VIEWER = "viewer", "Viewer"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="company_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)

    class Meta:
        ordering = ["company", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="companymember_unique")
        ]

    @property
    def group(self) -> Company:
        return self.company


class CompanyInvitation(InvitationBase):
    """An invitation to join a company, by username or by email address."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="company_invitations",
    )
    role = models.CharField(max_length=10, choices=CompanyMember.Role.choices)

    @property
    def group(self) -> Company:
        return self.company


class Agreement(models.Model):
    """A company's commitment to FairOSS. Terms are fixed once signed; history is kept."""

    class Kind(models.TextChoices):
        PLEDGE = "pledge", "Pledge"
        DIVIDEND = "dividend", "Dividend share"
        EQUITY = "equity", "Equity"
        CARRY = "carry", "Carried interest"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed by the company"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    class Period(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"
        YEARLY = "yearly", "Yearly"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="agreements")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    # pledge: ``amount`` minor units per developer per period
    amount = models.BigIntegerField(null=True, blank=True)
    developers = models.PositiveIntegerField(null=True, blank=True)
    period = models.CharField(max_length=10, choices=Period.choices, blank=True)
    # dividend, equity, carry: FairOSS's share in millibips
    share_millibips = models.IntegerField(null=True, blank=True)
    # equity
    share_count = models.BigIntegerField(null=True, blank=True)
    share_class = models.CharField(max_length=60, blank=True)
    cliff_months = models.PositiveSmallIntegerField(null=True, blank=True)
    vesting_months = models.PositiveSmallIntegerField(null=True, blank=True)
    time_vesting_millibips = models.IntegerField(null=True, blank=True)
    # carry
    fund_name = models.CharField(max_length=200, blank=True)
    # the document as signed (a snapshot, so later template changes never alter it)
    document_html = models.TextField(blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    created_by = actor_fk(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = actor_fk()
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[a-z]{3}$"), name="agreement_currency_iso"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} of {self.company}"

    @property
    def reference(self) -> str:
        return f"AGR-{self.pk:05d}"

    @property
    def period_noun(self) -> str:
        return {"monthly": "month", "quarterly": "quarter", "yearly": "year"}.get(self.period, "")

    @property
    def pledge_total(self) -> int | None:
        if self.amount is None or self.developers is None:
            return None
        return self.amount * self.developers


class AgreementSignature(models.Model):
    """A click-to-sign record: who signed which document, when, from where."""

    class Party(models.TextChoices):
        COMPANY = "company", "Company"
        FAIROSS = "faiross", "FairOSS (countersignature)"

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="signatures")
    party = models.CharField(max_length=10, choices=Party.choices)
    user = user_fk()
    signed_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    document_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "party"], name="signature_one_per_party")
        ]

    def __str__(self) -> str:
        return f"{self.user} for {self.party} on {self.agreement}"


class Milestone(models.Model):
    """An equity vesting milestone; staff mark it met."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    millibips = models.IntegerField(help_text="Part of the stake that vests when met")
    met_on = models.DateField(null=True, blank=True)
    met_by = actor_fk()

    class Meta:
        ordering = ["agreement", "position"]

    def __str__(self) -> str:
        return f"{self.title} ({self.agreement.reference})"


class Invoice(models.Model):
    """Money due under an agreement. Each source (a pledge period, a declaration, an event)
    has exactly one invoice (``source_key`` is unique): money due is computed once."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    class PaidVia(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        WIRE = "wire", "Wire"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="invoices")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="invoices")
    source_key = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.OPEN)
    issued_on = models.DateField()
    due_on = models.DateField()
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    stripe_checkout_session = models.CharField(max_length=100, blank=True)
    checkout_attempts = models.PositiveIntegerField(default=0)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_via = models.CharField(max_length=6, choices=PaidVia.choices, blank=True)
    payment_reference = models.CharField(max_length=200, blank=True)
    inflow = models.OneToOneField(
        "payouts.Inflow", null=True, blank=True, on_delete=models.PROTECT, related_name="invoice"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="invoice_positive"),
            models.CheckConstraint(
                condition=models.Q(status="paid", inflow__isnull=False) | ~models.Q(status="paid"),
                name="invoice_paid_has_inflow",
            ),
        ]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"{self.number} ({money}, {self.status})"

    @property
    def number(self) -> str:
        return f"INV-{self.pk:06d}"


class DividendDeclaration(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="declarations")
    declared_on = models.DateField()
    amount = models.BigIntegerField(help_text="Total dividend declared, minor units")
    currency = models.CharField(max_length=3)
    due_amount = models.BigIntegerField()
    invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="declaration"
    )
    recorded_by = actor_fk(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-declared_on", "-id"]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"dividend of {money} on {self.declared_on}"


class LiquidityEvent(models.Model):
    class Kind(models.TextChoices):
        ACQUISITION = "acquisition", "Acquisition"
        IPO = "ipo", "IPO"
        SECONDARY = "secondary", "Secondary sale"
        BUYBACK = "buyback", "Buyback"

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="liquidity_events"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    occurred_on = models.DateField()
    proceeds = models.BigIntegerField(help_text="Proceeds for 100% of fully diluted shares")
    currency = models.CharField(max_length=3)
    portion_millibips = models.IntegerField(help_text="Part of FairOSS's stake sold")
    vested_millibips = models.IntegerField(help_text="Part of the stake vested on that day")
    due_amount = models.BigIntegerField()
    invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="liquidity_event"
    )
    recorded_by = actor_fk(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_on}"


class CarryDistribution(models.Model):
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="carry_distributions"
    )
    distributed_on = models.DateField()
    amount = models.BigIntegerField(help_text="Carried interest realised, minor units")
    currency = models.CharField(max_length=3)
    due_amount = models.BigIntegerField()
    invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="carry_distribution"
    )
    recorded_by = actor_fk(blank=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-distributed_on", "-id"]

    def __str__(self) -> str:
        money = money_format(amount=self.amount, currency=self.currency)
        return f"carry of {money} on {self.distributed_on}"
