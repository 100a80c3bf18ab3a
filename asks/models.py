"""Company asks (issue 15): feature requests from companies to the projects they fund, and
hiring interest (contributor profiles and contact requests).

A feature request may be tied to an equity milestone of the company's agreement (its part of
the stake vests when the request is confirmed) and may carry a bounty held in the ledger
(``company:<slug>/bounty``) until it is confirmed (then it enters the project's flow) or
withdrawn or declined (then it goes back to the company's reserve).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from faiross.kernel.model_fields import actor_fk, user_fk
from faiross.kernel.money import money_format


class FeatureRequest(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the stewards"
        CHANGES_PROPOSED = "changes_proposed", "Changes proposed"
        DECLINED = "declined", "Declined"
        ACCEPTED = "accepted", "Accepted"
        IN_PROGRESS = "in_progress", "In progress"
        DELIVERED = "delivered", "Delivered"
        CONFIRMED = "confirmed", "Confirmed"
        DISPUTED = "disputed", "Disputed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class ConfirmedBy(models.TextChoices):
        COMPANY = "company", "the company"
        STAFF = "staff", "FairOSS staff"

    company = models.ForeignKey(
        "companies.Company", on_delete=models.PROTECT, related_name="feature_requests"
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="feature_requests"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(max_length=5000)
    links = models.JSONField(default=list, blank=True, help_text="Issues in the project's tracker")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    milestone = models.ForeignKey(
        "companies.Milestone",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="feature_requests",
        help_text="The equity milestone that is met when this request is confirmed.",
    )
    bounty_amount = models.BigIntegerField(null=True, blank=True)
    bounty_currency = models.CharField(max_length=3, blank=True)
    steward_note = models.TextField(
        max_length=2000, blank=True, help_text="Why declined, or which changes are proposed"
    )
    evidence = models.JSONField(
        default=list, blank=True, help_text="Merged pull requests or a release"
    )
    delivery_note = models.TextField(max_length=2000, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    confirm_by = models.DateTimeField(
        null=True, blank=True, help_text="After this, staff may decide if the company has not"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.CharField(max_length=8, choices=ConfirmedBy.choices, blank=True)
    dispute = models.ForeignKey(
        "disputes.Dispute",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="feature_requests",
    )
    filed_by = user_fk("feature_requests_filed")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(bounty_amount__isnull=True)
                | models.Q(bounty_amount__gt=0, bounty_currency__regex=r"^[a-z]{3}$"),
                name="featurerequest_bounty_valid",
            ),
            # One live request per milestone: a milestone is met once.
            models.UniqueConstraint(
                fields=["milestone"],
                condition=~models.Q(status__in=["declined", "withdrawn"]),
                name="featurerequest_one_live_per_milestone",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title} ({self.company} → {self.project})"

    @property
    def reference(self) -> str:
        return f"ask:{self.pk}"

    @property
    def bounty_shown(self) -> str:
        if not self.bounty_amount:
            return ""
        return money_format(amount=self.bounty_amount, currency=self.bounty_currency)


class RequestEvent(models.Model):
    """One step of a request (its public history on the request page)."""

    request = models.ForeignKey(FeatureRequest, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=30)
    actor = actor_fk()
    note = models.TextField(blank=True)
    ledger_transaction = models.ForeignKey(
        "payouts.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.action}"

    @property
    def label(self) -> str:
        return self.action.replace("_", " ")


class ContributorProfile(models.Model):
    """A person's opt-in to be found by companies (hiring interest). Without ``visible`` the
    person appears nowhere; with it, companies see their username, headline, chosen links and
    the projects whose tables name them (never income, never their address)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contributor_profile"
    )
    visible = models.BooleanField(
        "open to contact",
        default=False,
        help_text="Companies funding projects may find me and ask to contact me.",
    )
    headline = models.CharField(max_length=200, blank=True)
    links = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"contributor profile of {self.user}"


class ContactRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an answer"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    company = models.ForeignKey(
        "companies.Company", on_delete=models.CASCADE, related_name="contact_requests"
    )
    sender = user_fk("contact_requests_sent")
    contributor = user_fk("contact_requests_received")
    message = models.TextField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "contributor"],
                condition=models.Q(status="pending"),
                name="contactrequest_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.company} → {self.contributor} ({self.status})"


class ContactReport(models.Model):
    """A contributor reports a contact request (spam, abuse); staff handle it in admin."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        HANDLED = "handled", "Handled"

    contact = models.ForeignKey(ContactRequest, on_delete=models.CASCADE, related_name="reports")
    reporter = user_fk("contact_reports")
    reason = models.TextField(max_length=2000)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    staff_note = models.TextField(blank=True)
    handled_by = actor_fk()
    handled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["status", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "reporter"], name="contactreport_once")
        ]

    def __str__(self) -> str:
        return f"report on {self.contact} ({self.status})"
