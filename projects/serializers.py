"""API shapes: output serializers, and the input serializers that parse every API call.

Inputs are parsed here once (types, NUL characters, lengths, ranges, recipients: the kernel's
rules via :mod:`faiross.kernel.api_fields`); business rules happen in services.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.files import File
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from faiross.kernel.api_fields import (
    FlatListField,
    MillibipsField,
    NoNulCharField,
    RecipientField,
)
from faiross.kernel.recipients import MAX_RECIPIENT_LENGTH
from faiross.kernel.shares import FULL_SHARE

from .importers import MAX_FILE_BYTES, SHARE_POLICIES
from .models import Project, ProjectVerification
from .services.projects import MAX_PURLS
from .services.tables import MAX_ENTRIES, EntryInput
from .verification.selectors import verification_summary


class VerificationOutput(serializers.Serializer):
    """How a project was verified: the method and when (never who, never the evidence)."""

    method = serializers.ChoiceField(choices=ProjectVerification.Method.choices)
    at = serializers.DateTimeField()


class ProjectSerializer(serializers.ModelSerializer):
    purls = serializers.SerializerMethodField()
    stewards = serializers.SerializerMethodField()
    verified = serializers.SerializerMethodField()
    verification_method = serializers.SerializerMethodField()
    verification = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "slug",
            "name",
            "repo_url",
            "homepage",
            "description",
            "purls",
            "status",
            "stewards",
            "verified",
            "verification_method",
            "verification",
            "created_at",
        ]
        read_only_fields = ["status", "stewards", "created_at"]
        # Field rules (slug format, URLs) live in the services, so the API and the pages agree.
        extra_kwargs: dict[str, dict[str, Any]] = {
            "slug": {"validators": []},
            "repo_url": {"validators": []},
            "homepage": {"validators": []},
        }

    def get_stewards(self, obj: Project) -> list[str]:
        return sorted(m.user.username for m in obj.memberships.all() if m.role == "steward")

    def get_purls(self, obj: Project) -> list[str]:
        return [p.purl for p in obj.purls.all()]

    def get_verified(self, obj: Project) -> bool:
        return verification_summary(project=obj).verified

    @extend_schema_field(
        serializers.ChoiceField(choices=ProjectVerification.Method.choices, allow_null=True)
    )
    def get_verification_method(self, obj: Project) -> str | None:
        return verification_summary(project=obj).method

    @extend_schema_field(VerificationOutput(allow_null=True))
    def get_verification(self, obj: Project) -> dict[str, Any] | None:
        summary = verification_summary(project=obj).as_api()
        return VerificationOutput(summary).data if summary else None


class ProjectVerifyInput(serializers.Serializer):
    """``POST /api/v1/projects/{slug}/verify/`` (staff): what staff checked by hand."""

    note = NoNulCharField(max_length=2000)


class ProjectCreateInput(serializers.Serializer):
    """``POST /api/v1/projects/``: types and lengths; the slug, URL and purl rules (and
    whether a slug or purl is taken) are the service's, so the API and the pages agree."""

    slug = NoNulCharField(max_length=100)
    name = NoNulCharField(max_length=120, allow_blank=True)
    repo_url = NoNulCharField(max_length=300, required=False, allow_blank=True)
    homepage = NoNulCharField(max_length=300, required=False, allow_blank=True)
    description = NoNulCharField(max_length=2000, required=False, allow_blank=True)
    purls = FlatListField(
        child=NoNulCharField(max_length=255), required=False, max_length=MAX_PURLS
    )


class ProjectUpdateInput(serializers.Serializer):
    """``PATCH /api/v1/projects/{slug}/``: any of the fields; the slug never changes (ignored)."""

    name = NoNulCharField(max_length=120, required=False, allow_blank=True)
    repo_url = NoNulCharField(max_length=300, required=False, allow_blank=True)
    homepage = NoNulCharField(max_length=300, required=False, allow_blank=True)
    description = NoNulCharField(max_length=2000, required=False, allow_blank=True)
    purls = FlatListField(
        child=NoNulCharField(max_length=255), required=False, max_length=MAX_PURLS
    )


# --- share tables (projects/table_api.py, shared with companies) ------------------------------


class TableEntryInput(serializers.Serializer):
    """One row of a proposed table: ``{"recipient", "millibips", "note"?}``."""

    recipient = RecipientField()
    millibips = MillibipsField(
        error_messages={"min_value": "Must be positive; remove the row instead of giving 0."}
    )
    note = NoNulCharField(max_length=200, required=False, allow_blank=True, default="")
    # A masked address (email:z***@example.org) sent back with the entry_id it was shown with
    # keeps that entry's address (projects.services.tables).
    entry_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class TableEntriesField(serializers.ListField):
    """The rows of a table, parsed into :class:`~projects.services.tables.EntryInput`.

    Errors stay one flat list of messages under the field, each naming the row and the rule
    (``"row 2 (project:numpy): millibips: ..."``), so a client learns every problem at once.
    Unknown keys in a row are refused. Whether a recipient exists, is repeated or is the
    owner, and whether the rows add up to at most 100%, are the service's rules.
    """

    default_error_messages = {
        "not_a_list": "'entries' must be a list of objects with 'recipient' and 'millibips'.",
        "max_length": "A table may have at most {max_length} rows.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", TableEntryInput())
        kwargs.setdefault("max_length", MAX_ENTRIES)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[EntryInput]:  # type: ignore[override]
        if isinstance(data, (str, Mapping)) or not isinstance(data, Sequence):
            self.fail("not_a_list", input_type=type(data).__name__)
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        allowed = set(TableEntryInput().fields)
        errors: list[str] = []
        entries: list[EntryInput] = []
        for i, row in enumerate(data, start=1):
            if not isinstance(row, dict):
                errors.append(f"row {i}: must be an object with 'recipient' and 'millibips'.")
                continue
            recipient = row.get("recipient")
            shown = (
                isinstance(recipient, str)
                and "\x00" not in recipient
                and len(recipient) <= MAX_RECIPIENT_LENGTH
            )
            label = f"row {i} ({recipient})" if shown else f"row {i}"
            unknown = sorted(str(k) for k in set(row) - allowed)
            if unknown:
                errors.append(f"{label}: unknown field(s) {', '.join(unknown)}.")
                continue
            try:
                values = self.child.run_validation(row)
            except serializers.ValidationError as exc:
                detail = exc.detail if isinstance(exc.detail, dict) else {"row": exc.detail}
                for field, messages in detail.items():
                    for message in messages if isinstance(messages, list) else [messages]:
                        errors.append(f"{label}: {field}: {message}")
                continue
            entries.append(
                EntryInput(
                    recipient=values["recipient"],
                    millibips=values["millibips"],
                    note=values.get("note", ""),
                    entry_id=values.get("entry_id"),
                )
            )
        if errors:
            raise serializers.ValidationError(errors)
        return entries


class TableProposalInput(serializers.Serializer):
    """``POST .../table/versions/``: the rows (the reserve is the remainder) and a note."""

    entries = TableEntriesField()
    note = NoNulCharField(max_length=500, required=False, allow_blank=True, default="")


def _file_size_ok(upload: File) -> None:
    if upload.size and upload.size > MAX_FILE_BYTES:
        raise serializers.ValidationError(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB."
        )


@extend_schema_field(OpenApiTypes.BINARY)
class UploadField(serializers.FileField):
    """An uploaded file (documented as binary in the multipart request)."""


class TableImportInput(serializers.Serializer):
    """``POST .../table/import/`` (multipart): a faiross.toml, manifest or SBOM, and how a
    manifest's dependencies share ``share_millibips``."""

    file = UploadField(
        allow_empty_file=True,
        validators=[_file_size_ok],
        error_messages={"required": "Upload a file in the 'file' field."},
    )
    share_millibips = serializers.IntegerField(
        min_value=0,
        max_value=FULL_SHARE,
        default=5_000_000,
        error_messages={"invalid": "Give a whole number of millibips."},
    )
    policy = serializers.ChoiceField(choices=list(SHARE_POLICIES), default="even")
