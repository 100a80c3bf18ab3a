from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from faiross.kernel.recipients import project_key
from faiross.kernel.shares import FULL_SHARE

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
slug_validator = RegexValidator(
    SLUG_PATTERN,
    "Use 1 to 50 lower-case letters, digits and hyphens, starting and ending with a letter "
    "or digit (like a ticker: numpy, left-pad).",
)


class Project(models.Model):
    class Status(models.TextChoices):
        UNCLAIMED = "unclaimed", "Unclaimed"
        CLAIMED = "claimed", "Claimed"

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=120)
    repo_url = models.URLField("repository URL", max_length=300, blank=True)
    homepage = models.URLField(max_length=300, blank=True)
    description = models.TextField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLAIMED)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set only by the verification service (issue 11): until then the project's table routes
    # nothing and money reaching it waits in its escrow.
    verified_at = models.DateTimeField(null=True, blank=True)
    verification = models.ForeignKey(
        "ProjectVerification",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The proof that made this project verified.",
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("projects:detail", kwargs={"slug": self.slug})

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def owner_key(self) -> str:
        """``project:<slug>``: the project as a recipient and as a table owner."""
        return project_key(self.slug)


class ProjectVerification(models.Model):
    """One proof of control of a project's repository or package: who, how, when. Append-only;
    the project points at the proof that verified it."""

    class Method(models.TextChoices):
        REPO_TOKEN = "repo_token", "Token committed to the repository"
        GITHUB = "github", "GitHub admin or maintain permission"
        REGISTRY = "registry", "Listed as owner on the package registry"
        STAFF = "staff", "Checked by FairOSS staff"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="verifications")
    method = models.CharField(max_length=12, choices=Method.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What was checked (URL fetched, registry and package, repository and permission).
    evidence = models.JSONField(default=dict, blank=True)
    note = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.project.slug}: {self.get_method_display()}"


class ProjectPurl(models.Model):
    """A package a project publishes. Unverified claims of one purl by several projects may
    coexist; once a project proves it (``verified``), the purl is that project's alone and the
    other claims are removed (projects/verification/services.py)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="purls")
    purl = models.CharField(max_length=255, db_index=True)
    verified = models.BooleanField(
        default=False, help_text="Proved to be this project's (by its verification)."
    )

    class Meta:
        ordering = ["purl"]
        constraints = [
            models.UniqueConstraint(fields=["project", "purl"], name="projectpurl_unique_project"),
            # The database itself refuses a second verified owner of one package.
            models.UniqueConstraint(
                fields=["purl"], condition=models.Q(verified=True), name="projectpurl_one_verified"
            ),
        ]

    def __str__(self) -> str:
        return self.purl


class MemberBase(models.Model):
    """The shape every membership has (a project's, a company's): a user with a role."""

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.group}"  # type: ignore[attr-defined]


class InvitationBase(models.Model):
    """The shape every invitation has: to a user by username, or to whoever verifies an
    email address; pending until answered or revoked."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"

    email = models.EmailField(blank=True)
    token = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.target} to {self.group}"

    @property
    def group(self) -> models.Model:
        """What the invitation is to (the project or the company)."""
        raise NotImplementedError

    @property
    def target(self) -> str:
        user = getattr(self, "user", None)
        return user.get_username() if user is not None else self.email


class Membership(MemberBase):
    class Role(models.TextChoices):
        STEWARD = "steward", "Steward"
        MAINTAINER = "maintainer", "Maintainer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=12, choices=Role.choices)

    class Meta:
        ordering = ["role", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")
        ]

    @property
    def group(self) -> Project:
        return self.project


class Invitation(InvitationBase):
    """An invitation to join a project, by username or by email address."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="project_invitations",
    )
    role = models.CharField(max_length=12, choices=Membership.Role.choices)

    class Meta(InvitationBase.Meta):
        constraints = [
            models.UniqueConstraint(
                "project",
                Lower("email"),
                condition=models.Q(status="pending") & ~models.Q(email=""),
                name="invitation_one_pending_per_email",
            ),
            models.UniqueConstraint(
                fields=["project", "user"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_user",
            ),
            models.CheckConstraint(
                condition=~models.Q(email="") | models.Q(user__isnull=False),
                name="invitation_has_target",
            ),
        ]

    @property
    def group(self) -> Project:
        return self.project


class ShareTable(models.Model):
    """The versioned table of one owner: ``project:<slug>`` or ``company:<slug>``.

    Only the version pointed to by ``active_version`` moves money. The row is locked
    (SELECT ... FOR UPDATE) whenever a version is activated, so two activations serialise.
    """

    owner_key = models.CharField(max_length=120, unique=True)
    quorum = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Approvals a version needs to become active; empty means a majority of "
        "the approvers (a sole approver's proposal is active at once).",
    )
    active_version = models.OneToOneField(
        "TableVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"table of {self.owner_key}"


class TableVersion(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ACTIVE = "active", "Active"
        SUPERSEDED = "superseded", "Superseded"
        WITHDRAWN = "withdrawn", "Withdrawn"

    table = models.ForeignKey(ShareTable, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED)
    reserve_millibips = models.PositiveIntegerField()
    source = models.CharField(max_length=60, default="editor")
    note = models.CharField(max_length=500, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["table", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["table", "number"], name="tableversion_unique_number"),
            # The database itself refuses a second active version of one table.
            models.UniqueConstraint(
                fields=["table"],
                condition=models.Q(status="active"),
                name="tableversion_one_active",
            ),
            models.CheckConstraint(
                condition=models.Q(reserve_millibips__lte=FULL_SHARE),
                name="tableversion_reserve_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.table.owner_key} v{self.number} ({self.status})"


class RecipientKey(models.Model):
    """Every recipient string once, with an integer id, so the money path can load millions
    of entries as integers instead of strings."""

    key = models.CharField(max_length=300, unique=True)

    def __str__(self) -> str:
        return self.key


class TableEntry(models.Model):
    version = models.ForeignKey(TableVersion, on_delete=models.PROTECT, related_name="entries")
    position = models.PositiveSmallIntegerField()
    recipient = models.CharField(max_length=300)
    recipient_key = models.ForeignKey(RecipientKey, on_delete=models.PROTECT, related_name="+")
    millibips = models.PositiveIntegerField()
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "recipient"], name="tableentry_unique_recipient"
            ),
            models.CheckConstraint(
                condition=models.Q(millibips__gt=0) & models.Q(millibips__lte=FULL_SHARE),
                name="tableentry_millibips_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.millibips}"

    @property
    def kind(self) -> str:
        return self.recipient.split(":", 1)[0]


class Approval(models.Model):
    version = models.ForeignKey(TableVersion, on_delete=models.PROTECT, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "user"], name="approval_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} approved {self.version}"


class KnownDependency(models.Model):
    """A dependency learned from an imported manifest; the default table splits over these."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="known_dependencies"
    )
    dependency = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dependents")
    kind = models.CharField(max_length=12, default="runtime")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dependency__slug"]
        constraints = [
            models.UniqueConstraint(fields=["project", "dependency"], name="knowndep_unique"),
            models.CheckConstraint(
                condition=~models.Q(project=models.F("dependency")), name="knowndep_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} depends on {self.dependency}"


class UserProfile(models.Model):
    """A person's choices about what the public may see (issue 11: private by default)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # What a person received, their balances and payouts are shown to the public only when
    # they opt in; staff and the person always see them.
    public = models.BooleanField(
        "public profile",
        default=False,
        help_text="Show what I received from FairOSS on my public profile.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user}"


class ApiToken(models.Model):
    """A personal API token. Only a hash of the key is kept; the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)  # sha256 hex of the key
    prefix = models.CharField(max_length=12)  # first characters, to tell tokens apart
    # Obtained with a second factor (TOTP at issue, or from an MFA-authenticated session):
    # a company's "require MFA" rule checks this, not merely that the account has MFA.
    second_factor = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.prefix}… of {self.user}"


class IdempotencyRecord(models.Model):
    """The answer an API create gave for an ``Idempotency-Key``: a retry with the same key and
    body gets the same answer; the same key with another body is refused."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)  # null while in progress
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key", "method", "path"], name="idempotency_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


# --- outgoing webhooks (issue 12) ----------------------------------------------------------
# They live in the lowest app because events come from every layer (projects, payouts,
# companies, disputes); the services are in projects/webhooks/.


class WebhookEndpoint(models.Model):
    """An integrator's URL that receives the events its owner (``company:<slug>`` or
    ``project:<slug>``) picked, signed with the endpoint's secret."""

    owner_key = models.CharField(max_length=120, db_index=True)
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Kept in clear because every delivery is signed with it (HMAC); shown to people once.
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, help_text="Event types this endpoint receives")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner_key", "-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.owner_key} → {self.url}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: its payload (fixed when the event happened) and where its
    sending stands. Replays send the same payload and event id again."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(db_index=True)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=1000, blank=True, help_text="Excerpt")
    error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhookdelivery_once_per_endpoint"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One try at sending a delivery, with what the receiver answered (the log)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    manual = models.BooleanField(default=False, help_text="A replay asked for by a person")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=1000, blank=True, help_text="Excerpt")
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


# --- notifications (issue 12) ---------------------------------------------------------------
# In the lowest app because notifications come from every layer (tables here, runs and payouts,
# invoices and agreements, disputes); the kinds and the service are in projects/notifications.py.


class NotificationPreference(models.Model):
    """A person's choice for one kind of notification on one channel. No row means the kind's
    default (``projects.notifications.KINDS``)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="notificationpreference_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}/{self.channel}: {'on' if self.enabled else 'off'}"


class UserNotification(models.Model):
    """One message to one person, written in the transaction of the event it tells about (so
    a rolled-back event leaves none) and sent after commit. ``key`` is unique: the same event
    told twice (a retried task, a re-run) is one message."""

    key = models.CharField(max_length=300, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40)
    channel = models.CharField(
        max_length=10,
        choices=NotificationPreference.Channel.choices,
        default=NotificationPreference.Channel.EMAIL,
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["sent_at", "created_at"], name="usernotification_unsent")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user} ({'sent' if self.sent_at else 'pending'})"
