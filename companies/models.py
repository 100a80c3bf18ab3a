from __future__ import annotations

from django.conf import settings
from django.db import models

from projects.models import slug_validator


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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name

    @property
    def owner_key(self) -> str:
        return f"company:{self.slug}"


class CompanyMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        FINANCE = "finance", "Finance"
        VIEWER = "viewer", "Viewer"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="company_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["company", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="companymember_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) at {self.company}"
