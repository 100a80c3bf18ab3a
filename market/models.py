"""The investor market (issue 13): tickers, the series LLC records, offerings and their
commitments, holdings of units, investor profiles, cash movements in and out, distributions
to holders, and the secondary market's orders, trades and command journal.

Money is never stored here as a balance: cash lives in ledger accounts (``payouts.ledger``).
An investor's cash is ``user:<username>/cash``; a commitment waits in ``offering:<id>/escrow``
until the offering closes. Units are not money and ledger accounts carry ISO currencies only,
so units live in :class:`Holding` rows (the current position) and :class:`UnitMovement` rows
(append-only, one per issue or transfer); ``manage.py ledger_check`` verifies that every
ticker's holdings add up to the units its closed offerings sold and that each holding equals
its movements (:mod:`market.checks`).

One unit is ``Ticker.unit_millibips`` millibips of the project's share table; the project's
table carries one ``market:<TICKER>`` entry of ``units issued * unit_millibips``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from faiross.kernel.model_fields import actor_fk, user_fk
from faiross.kernel.money import money_format

TICKER_RE = r"^[A-Z]{2,8}$"


def _txn_fk() -> models.ForeignKey:
    """A ledger transaction that moved money for this row (several rows may share one)."""
    return models.ForeignKey(
        "payouts.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )


class LedgerKind:
    """``LedgerTransaction.kind`` values the market writes (the column is free text)."""

    DEPOSIT = "market_deposit"
    WITHDRAWAL = "market_withdrawal"
    TO_CASH = "market_to_cash"
    COMMIT = "market_commit"
    REFUND = "market_refund"
    CLOSE = "market_close"
    DISTRIBUTION = "market_distribution"
    TRADE = "market_trade"
    ORDER_RESERVE = "market_reserve"
    ORDER_RELEASE = "market_release"


class Ticker(models.Model):
    """A listed project: its symbol, whether the broker-dealer approved or halted it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the broker-dealer"
        APPROVED = "approved", "Approved"
        HALTED = "halted", "Halted"

    symbol = models.CharField(max_length=8, unique=True)
    project = models.OneToOneField(
        "projects.Project", on_delete=models.PROTECT, related_name="ticker"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(max_length=3, default="usd")
    unit_millibips = models.PositiveIntegerField(
        default=1, help_text="Millibips of the project's table one unit is (fixed at listing)"
    )
    cap_millibips = models.PositiveIntegerField(
        default=0,
        help_text="The most of the table the stewards allow to be sold, units sold included",
    )
    price_band_bips = models.PositiveIntegerField(
        default=2000, help_text="Orders may be at most this far from the last price (2000 = 20%)"
    )
    listed_by = actor_fk()
    listed_at = models.DateTimeField(auto_now_add=True)
    approved_by = actor_fk()
    approved_at = models.DateTimeField(null=True, blank=True)
    halted_by = actor_fk()
    halted_at = models.DateTimeField(null=True, blank=True)
    halt_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=Q(symbol__regex=TICKER_RE), name="ticker_symbol_letters"
            ),
            models.CheckConstraint(condition=Q(unit_millibips__gt=0), name="ticker_unit_positive"),
        ]
        permissions = [
            ("broker_dealer", "Acts for the broker-dealer: approve, halt, KYC, wires"),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def recipient(self) -> str:
        return f"market:{self.symbol}"


class Series(models.Model):
    """The series of FairOSS's series LLC that issues a ticker's units."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        FORMED = "formed", "Formed"
        DISSOLVED = "dissolved", "Dissolved"

    ticker = models.OneToOneField(Ticker, on_delete=models.PROTECT, related_name="series")
    name = models.CharField(max_length=200)
    formation_date = models.DateField(null=True, blank=True)
    jurisdiction = models.CharField(max_length=100, default="Delaware, United States")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    documents = models.JSONField(
        default=list, blank=True, help_text='[{"title": ..., "reference": ...}], never the files'
    )
    recorded_by = actor_fk()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ticker__symbol"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.name


class Offering(models.Model):
    """Units of a ticker offered by the project (primary market)."""

    class Kind(models.TextChoices):
        FIXED = "fixed", "Fixed price"
        AUCTION = "auction", "Uniform-price auction"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for the stewards' quorum"
        OPEN = "open", "Open for commitments"
        SUCCEEDED = "succeeded", "Closed: units allocated"
        FAILED = "failed", "Closed: minimum not met, refunded"
        REJECTED = "rejected", "Rejected by the stewards"
        WITHDRAWN = "withdrawn", "Withdrawn"

    ticker = models.ForeignKey(Ticker, on_delete=models.PROTECT, related_name="offerings")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    millibips = models.PositiveIntegerField(help_text="Of the project's reserve")
    units = models.PositiveBigIntegerField(help_text="millibips / the ticker's unit_millibips")
    currency = models.CharField(max_length=3)
    price = models.BigIntegerField(
        help_text="Minor units per unit: the price (fixed) or the lowest bid accepted (auction)"
    )
    minimum_raise = models.BigIntegerField()
    fee_bips = models.PositiveIntegerField(help_text="FairOSS's fee on the proceeds")
    deadline = models.DateTimeField()
    proposed_by = actor_fk()
    created_at = models.DateTimeField(auto_now_add=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    clearing_price = models.BigIntegerField(null=True, blank=True)
    units_sold = models.PositiveBigIntegerField(default=0)
    proceeds = models.BigIntegerField(default=0, help_text="Raised, before the fee")
    fee = models.BigIntegerField(default=0)
    close_transaction = _txn_fk()
    table_version = models.ForeignKey(
        "projects.TableVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["ticker", "number"], name="offering_number_once"),
            models.CheckConstraint(condition=Q(millibips__gt=0), name="offering_millibips_pos"),
            models.CheckConstraint(condition=Q(units__gt=0), name="offering_units_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="offering_price_positive"),
            models.CheckConstraint(condition=Q(minimum_raise__gte=0), name="offering_min_nonneg"),
            models.CheckConstraint(
                condition=Q(units_sold__lte=F("units")), name="offering_sold_le"
            ),
            # At most one offering of a ticker waits or is open at a time.
            models.UniqueConstraint(
                fields=["ticker"],
                condition=Q(status__in=["proposed", "open"]),
                name="offering_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticker_id and self.ticker.symbol} offering {self.number}"

    @property
    def escrow_owner(self) -> str:
        return f"offering:{self.pk}"

    def money(self, amount: int) -> str:
        return money_format(amount=amount, currency=self.currency)


class OfferingApproval(models.Model):
    """A steward's vote on a proposed offering; the table's quorum of approvals opens it."""

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="approvals")
    user = user_fk()
    approve = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["offering", "user"], name="offeringapproval_once")
        ]

    def __str__(self) -> str:
        verb = "approves" if self.approve else "rejects"
        return f"{self.user_id} {verb} offering {self.offering_id}"


class Disclosure(models.Model):
    """One version of an offering's disclosure document. A ``material`` new version asks every
    investor with an active commitment to reconfirm; unconfirmed commitments are refunded."""

    offering = models.ForeignKey(Offering, on_delete=models.CASCADE, related_name="disclosures")
    version = models.PositiveIntegerField()
    use_of_proceeds = models.TextField(max_length=10000)
    stewards = models.TextField(max_length=5000)
    table_history = models.TextField(max_length=10000)
    risks = models.TextField(max_length=20000)
    material = models.BooleanField(default=False)
    sha256 = models.CharField(max_length=64)
    created_by = actor_fk()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["offering", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["offering", "version"], name="disclosure_version_once")
        ]

    def __str__(self) -> str:
        return f"offering {self.offering_id} disclosure v{self.version}"


class Commitment(models.Model):
    """An investor's cash committed to an offering, held in the offering's escrow account."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Committed"
        RECONFIRM = "reconfirm", "Waiting for reconfirmation"
        CANCELLED = "cancelled", "Cancelled and refunded"
        ALLOCATED = "allocated", "Units allocated"
        REFUNDED = "refunded", "Refunded"

    offering = models.ForeignKey(Offering, on_delete=models.PROTECT, related_name="commitments")
    investor = user_fk("market_commitments")
    units = models.PositiveBigIntegerField(help_text="Units wanted (auction: at most)")
    price_limit = models.BigIntegerField(
        null=True, blank=True, help_text="Auction: the most per unit; empty for a fixed price"
    )
    amount = models.BigIntegerField(help_text="Cash held in escrow: units * price (or limit)")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    disclosure_version = models.PositiveIntegerField()
    units_allocated = models.PositiveBigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    commit_transaction = _txn_fk()
    refund_transaction = _txn_fk()

    class Meta:
        ordering = ["offering", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="commitment_units_positive"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="commitment_amount_positive"),
            models.CheckConstraint(
                condition=Q(units_allocated__lte=F("units")), name="commitment_alloc_le"
            ),
        ]
        indexes = [models.Index(fields=["investor", "created_at"], name="commitment_investor")]

    def __str__(self) -> str:
        return f"commitment {self.pk} to offering {self.offering_id}"


class Holding(models.Model):
    """An investor's units of a ticker now; ``reserved_units`` back open sell orders."""

    investor = user_fk("market_holdings")
    ticker = models.ForeignKey(Ticker, on_delete=models.PROTECT, related_name="holdings")
    units = models.PositiveBigIntegerField(default=0)
    reserved_units = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ticker", "investor"]
        constraints = [
            models.UniqueConstraint(fields=["investor", "ticker"], name="holding_once"),
            models.CheckConstraint(
                condition=Q(reserved_units__lte=F("units")), name="holding_reserved_le_units"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.units} units of ticker {self.ticker_id} (investor {self.investor_id})"


class UnitMovement(models.Model):
    """Append-only: units issued to an investor (``from_investor`` empty) or moved between
    two investors (a trade). A holding equals the sum of its movements."""

    class Kind(models.TextChoices):
        ISSUE = "issue", "Issued by an offering"
        TRADE = "trade", "Traded"

    ticker = models.ForeignKey(Ticker, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    from_investor = user_fk(optional=True)
    to_investor = user_fk()
    units = models.PositiveBigIntegerField()
    reference = models.CharField(max_length=100, help_text="offering:<id> or trade:<id>")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="unitmovement_positive"),
            models.CheckConstraint(
                condition=Q(kind="issue", from_investor__isnull=True)
                | Q(kind="trade", from_investor__isnull=False),
                name="unitmovement_kind_source",
            ),
        ]
        indexes = [models.Index(fields=["ticker", "created_at"], name="unitmovement_ticker_at")]

    def __str__(self) -> str:
        return f"{self.kind} {self.units} units ({self.reference})"


class InvestorProfile(models.Model):
    """Who an investor is to the broker-dealer. KYC is set by broker-dealer staff in admin with
    a reference to the documents they hold, never the documents themselves."""

    class Kyc(models.TextChoices):
        NONE = "none", "Not started"
        PENDING = "pending", "Being checked"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="investor_profile"
    )
    legal_name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    accredited = models.BooleanField(default=False)
    annual_income = models.BigIntegerField(null=True, blank=True, help_text="Minor units")
    net_worth = models.BigIntegerField(null=True, blank=True, help_text="Minor units")
    currency = models.CharField(max_length=3, default="usd")
    kyc_status = models.CharField(max_length=10, choices=Kyc.choices, default=Kyc.NONE)
    kyc_reference = models.CharField(max_length=200, blank=True)
    kyc_set_by = actor_fk()
    kyc_set_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="investor_iso"),
            models.CheckConstraint(
                condition=Q(annual_income__isnull=True) | Q(annual_income__gte=0),
                name="investor_income_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(net_worth__isnull=True) | Q(net_worth__gte=0),
                name="investor_worth_nonneg",
            ),
            # A verified status always names the broker-dealer's document reference.
            models.CheckConstraint(
                condition=~Q(kyc_status="verified") | ~Q(kyc_reference=""),
                name="investor_verified_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"investor {self.user_id}"


class Deposit(models.Model):
    """Cash in: a Stripe Checkout session or a wire recorded by broker-dealer staff."""

    class Method(models.TextChoices):
        STRIPE = "stripe", "Card (Stripe Checkout)"
        WIRE = "wire", "Wire"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for payment"
        COMPLETED = "completed", "Credited"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    investor = user_fk("market_deposits")
    method = models.CharField(max_length=8, choices=Method.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reference = models.CharField(max_length=200, unique=True)
    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    recorded_by = actor_fk()
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    transaction = _txn_fk()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_positive"),
        ]

    def __str__(self) -> str:
        return f"deposit {self.reference}"


class Withdrawal(models.Model):
    """Cash out: cash moved to the investor's available balance and paid out by Connect."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SENT = "sent", "Sent to Connect"
        FAILED = "failed", "Failed"

    investor = user_fk("market_withdrawals")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    payout_id = models.BigIntegerField(null=True, blank=True, help_text="payouts.Payout id")
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    transaction = _txn_fk()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_positive"),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.pk}"


class MarketDistribution(models.Model):
    """What a run paid a ticker's ``market:<TICKER>`` entry, split among its holders at the
    run's cutoff (one ledger transaction)."""

    run = models.ForeignKey(
        "payouts.DistributionRun", on_delete=models.PROTECT, related_name="market_distributions"
    )
    ticker = models.ForeignKey(Ticker, on_delete=models.PROTECT, related_name="distributions")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    units = models.PositiveBigIntegerField(help_text="Units held at the cutoff")
    created_at = models.DateTimeField(auto_now_add=True)
    transaction = _txn_fk()

    class Meta:
        ordering = ["-run_id", "ticker"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "ticker", "currency"], name="marketdistribution_once"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} ticker {self.ticker_id} {self.currency}"


class DistributionShare(models.Model):
    """One holder's part of a :class:`MarketDistribution`."""

    distribution = models.ForeignKey(
        MarketDistribution, on_delete=models.CASCADE, related_name="shares"
    )
    investor = user_fk("market_distribution_shares")
    units = models.PositiveBigIntegerField()
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["distribution", "-amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["distribution", "investor"], name="distributionshare_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.units} units: {self.amount}"


# --- the secondary market (built by market/engine/) -------------------------------------


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class Kind(models.TextChoices):
        LIMIT = "limit", "Limit"
        MARKET = "market", "Market"

    class TimeInForce(models.TextChoices):
        GTC = "gtc", "Good till cancelled"
        DAY = "day", "Day"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        REJECTED = "rejected", "Rejected"

    ticker = models.ForeignKey(Ticker, on_delete=models.PROTECT, related_name="orders")
    investor = user_fk("market_orders")
    side = models.CharField(max_length=4, choices=Side.choices)
    kind = models.CharField(max_length=6, choices=Kind.choices)
    price = models.BigIntegerField(null=True, blank=True, help_text="Limit: minor units per unit")
    units = models.PositiveBigIntegerField()
    remaining = models.PositiveBigIntegerField()
    time_in_force = models.CharField(
        max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reserved_cash = models.BigIntegerField(default=0)
    reserved_units = models.PositiveBigIntegerField(default=0)
    sequence = models.BigIntegerField(unique=True, null=True, blank=True)
    client_order_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    reject_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="order_units_positive"),
            models.CheckConstraint(
                condition=Q(remaining__lte=F("units")), name="order_remaining_le_units"
            ),
            models.CheckConstraint(
                condition=Q(kind="market") | Q(price__gt=0), name="order_limit_has_price"
            ),
            models.CheckConstraint(condition=Q(reserved_cash__gte=0), name="order_cash_nonneg"),
            models.UniqueConstraint(
                fields=["investor", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_client_id_once",
            ),
        ]
        indexes = [
            models.Index(fields=["ticker", "status"], name="order_ticker_status"),
            models.Index(fields=["investor", "status"], name="order_investor_status"),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.side} {self.units}"


class Trade(models.Model):
    ticker = models.ForeignKey(Ticker, on_delete=models.PROTECT, related_name="trades")
    buy_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="buy_trades")
    sell_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="sell_trades")
    buyer = user_fk()
    seller = user_fk()
    price = models.BigIntegerField()
    units = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    buyer_fee = models.BigIntegerField(default=0)
    seller_fee = models.BigIntegerField(default=0)
    sequence = models.BigIntegerField(unique=True)
    executed_at = models.DateTimeField(default=timezone.now, db_index=True)
    transaction = _txn_fk()

    class Meta:
        ordering = ["-sequence"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="trade_price_positive"),
            models.CheckConstraint(condition=Q(units__gt=0), name="trade_units_positive"),
            models.CheckConstraint(
                condition=Q(buyer_fee__gte=0, seller_fee__gte=0), name="trade_fees_nonneg"
            ),
        ]
        indexes = [models.Index(fields=["ticker", "executed_at"], name="trade_ticker_at")]

    def __str__(self) -> str:
        return f"trade {self.sequence}: {self.units} at {self.price}"


class JournalEntry(models.Model):
    """The engine's command journal: every accepted command, numbered without gaps, written
    before the command is acknowledged."""

    sequence = models.BigIntegerField(primary_key=True)
    command = models.JSONField()
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sequence"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"journal {self.sequence}"
