"""Input serializers of the asks API: types, NUL characters and lengths are checked here; the
rules (who may act, which projects, milestones, bounty cover) are the services'."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from faiross.kernel.api_fields import (
    AmountField,
    CurrencyField,
    FlatListField,
    NoNulCharField,
    StrictBooleanField,
    StrictIntegerField,
)


class _NoUnknownFields(serializers.Serializer):
    """Refuses keys the serializer does not know (a typo must not pass silently)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(str(k) for k in set(initial) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {"non_field_errors": [f"Unknown field(s): {', '.join(unknown)}."]}
            )
        return attrs


def _links(**kwargs: Any) -> FlatListField:
    return FlatListField(
        child=NoNulCharField(max_length=500), item_name="link", max_length=10, **kwargs
    )


class RequestFileInput(_NoUnknownFields):
    """``POST /api/v1/companies/{slug}/requests/``: one request per project."""

    projects = FlatListField(
        child=NoNulCharField(max_length=50),
        item_name="project",
        min_length=1,
        max_length=10,
        help_text="Project slugs the company's active share table names.",
    )
    title = NoNulCharField(max_length=200)
    description = NoNulCharField(max_length=5000)
    links = _links(required=False, help_text="Issues in the project's tracker.")
    milestone = StrictIntegerField(
        required=False, allow_null=True, help_text="Id of an unmet equity milestone."
    )
    bounty_amount = AmountField(required=False, allow_null=True, help_text="Minor units.")
    bounty_currency = CurrencyField(required=False, allow_blank=True)


class RequestReviseInput(_NoUnknownFields):
    title = NoNulCharField(max_length=200)
    description = NoNulCharField(max_length=5000)
    links = _links(required=False)


class NoteInput(_NoUnknownFields):
    note = NoNulCharField(max_length=2000, required=False, allow_blank=True)


class DeliverInput(_NoUnknownFields):
    evidence = _links(min_length=1, help_text="Merged pull requests or a release.")
    note = NoNulCharField(max_length=2000, required=False, allow_blank=True)


class RejectInput(_NoUnknownFields):
    reason = NoNulCharField(max_length=2000)


class ProfileInput(_NoUnknownFields):
    visible = StrictBooleanField()
    headline = NoNulCharField(max_length=200, required=False, allow_blank=True)
    links = _links(required=False)


class ContactSendInput(_NoUnknownFields):
    company = NoNulCharField(max_length=50, help_text="Slug of the sending company.")
    contributor = NoNulCharField(max_length=150, help_text="Username of an opted-in contributor.")
    message = NoNulCharField(max_length=2000)


class ContactReportInput(_NoUnknownFields):
    reason = NoNulCharField(max_length=2000)


class ContributorQuery(_NoUnknownFields):
    project = NoNulCharField(max_length=50, required=False, allow_blank=True)
    ecosystem = NoNulCharField(max_length=30, required=False, allow_blank=True)
    page = StrictIntegerField(required=False)
