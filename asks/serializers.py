"""Input serializers of the asks API: types, NUL characters and lengths are checked here; the
rules (who may act, which projects, milestones, bounty cover) are the services'."""

from __future__ import annotations

from typing import Any

from faiross.kernel.api_fields import (
    AmountField,
    CurrencyField,
    FlatListField,
    NoNulCharField,
    NoUnknownFieldsSerializer,
    StrictBooleanField,
    StrictIntegerField,
)


def _links(**kwargs: Any) -> FlatListField:
    return FlatListField(
        child=NoNulCharField(max_length=500), item_name="link", max_length=10, **kwargs
    )


class RequestFileInput(NoUnknownFieldsSerializer):
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


class RequestReviseInput(NoUnknownFieldsSerializer):
    title = NoNulCharField(max_length=200)
    description = NoNulCharField(max_length=5000)
    links = _links(required=False)


class NoteInput(NoUnknownFieldsSerializer):
    note = NoNulCharField(max_length=2000, required=False, allow_blank=True)


class DeliverInput(NoUnknownFieldsSerializer):
    evidence = _links(min_length=1, help_text="Merged pull requests or a release.")
    note = NoNulCharField(max_length=2000, required=False, allow_blank=True)


class RejectInput(NoUnknownFieldsSerializer):
    reason = NoNulCharField(max_length=2000)


class ProfileInput(NoUnknownFieldsSerializer):
    visible = StrictBooleanField()
    headline = NoNulCharField(max_length=200, required=False, allow_blank=True)
    links = _links(required=False)


class ContactSendInput(NoUnknownFieldsSerializer):
    company = NoNulCharField(max_length=50, help_text="Slug of the sending company.")
    contributor = NoNulCharField(max_length=150, help_text="Username of an opted-in contributor.")
    message = NoNulCharField(max_length=2000)


class ContactReportInput(NoUnknownFieldsSerializer):
    reason = NoNulCharField(max_length=2000)


class ContributorQuery(NoUnknownFieldsSerializer):
    project = NoNulCharField(max_length=50, required=False, allow_blank=True)
    ecosystem = NoNulCharField(max_length=30, required=False, allow_blank=True)
    page = StrictIntegerField(required=False)
