"""API v1 share-table calls, shared by projects and (later) companies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from faiross.kernel.page_cache import public_page
from faiross.kernel.recipients import project_key

from . import selectors, services
from .auth import signed_in_user
from .faiross_toml import table_to_toml
from .idempotency import idempotent
from .models import Project, TableEntry, TableVersion
from .privacy import recipient_shown
from .serializers import TableImportInput, TableProposalInput

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass


def entry_data(
    entry: TableEntry, viewer: User | AnonymousUser | None, *, notes: bool = True
) -> dict[str, Any]:
    """An entry as ``viewer`` may see it: an email recipient masked unless theirs or staff,
    and then with its ``entry_id``, which a proposal sends back with the masked recipient to
    keep the address unchanged."""
    shown = recipient_shown(key=entry.recipient, user=viewer)
    return (
        {"recipient": shown, "millibips": entry.millibips}
        | ({"entry_id": entry.pk} if shown != entry.recipient else {})
        | ({"note": entry.note} if notes and entry.note else {})
    )


def version_data(
    version: TableVersion, viewer: User | AnonymousUser | None = None
) -> dict[str, Any]:
    """A version as ``viewer`` may see it (email recipients masked unless theirs or staff)."""
    return {
        "owner": version.table.owner_key,
        "version": version.number,
        "status": version.status,
        "entries": [entry_data(e, viewer) for e in version.entries.order_by("position")],
        "reserve_millibips": version.reserve_millibips,
        "source": version.source,
        "note": version.note,
        "proposed_by": version.proposed_by.get_username() if version.proposed_by else None,
        "approvals": [a.user.get_username() for a in version.approvals.select_related("user")],
        "created_at": version.created_at,
        "activated_at": version.activated_at,
    }


EntrySchema = inline_serializer(
    "TableEntry",
    {
        "recipient": serializers.CharField(),
        "millibips": serializers.IntegerField(),
        "entry_id": serializers.IntegerField(
            required=False, help_text="Only with a masked recipient: send it back to keep it."
        ),
    },
)
TableSchema = inline_serializer(
    "ShareTable",
    {
        "owner": serializers.CharField(),
        "version": serializers.IntegerField(allow_null=True),
        "default": serializers.BooleanField(),
        "entries": EntrySchema.__class__(many=True),
        "reserve_millibips": serializers.IntegerField(),
    },
)


class OwnerMixin:
    """Resolves the table owner from the URL; companies subclass this."""

    owner_kind = "project"
    kwargs: dict[str, Any]

    def owner_key(self) -> str:
        get_object_or_404(Project, slug=self.kwargs["slug"])
        return project_key(self.kwargs["slug"])


@method_decorator(public_page, name="dispatch")
class TableView(OwnerMixin, APIView):
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses={200: TableSchema})
    def get(self, request: Request, slug: str) -> Response:
        view = selectors.table_view(owner_key=self.owner_key())
        return Response(
            {
                "owner": view.owner_key,
                "version": view.version.number if view.version else None,
                "default": view.is_default,
                "entries": [
                    entry_data(e, request.user, notes=False)
                    for e in view.version.entries.order_by("position")
                ]
                if view.version
                else [{"recipient": r.recipient, "millibips": r.millibips} for r in view.rows],
                "reserve_millibips": view.reserve_millibips,
            }
        )


class TableVersionsView(OwnerMixin, APIView):
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticatedOrReadOnly]

    @extend_schema(operation_id="table_versions_list", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str) -> Response:
        from rest_framework.pagination import PageNumberPagination

        paginator = PageNumberPagination()
        versions = selectors.table_versions(owner_key=self.owner_key()).select_related("table")
        page = paginator.paginate_queryset(versions, request, view=self)
        return paginator.get_paginated_response([version_data(v, request.user) for v in page or []])

    @extend_schema(request=TableProposalInput, responses={201: OpenApiTypes.OBJECT})
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        owner_key = self.owner_key()
        serializer = TableProposalInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.table_propose(
            owner_key=owner_key,
            actor=signed_in_user(request),
            entries=serializer.validated_data["entries"],
            source="api",
            note=serializer.validated_data["note"],
        )
        return Response(version_data(version, request.user), status=status.HTTP_201_CREATED)


class TableVersionDetailView(OwnerMixin, APIView):
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = get_object_or_404(
            TableVersion.objects.select_related("table"),
            table__owner_key=self.owner_key(),
            number=number,
        )
        return Response(version_data(version, request.user))


class TableVersionApproveView(OwnerMixin, APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = get_object_or_404(
            TableVersion.objects.select_related("table"),
            table__owner_key=self.owner_key(),
            number=number,
        )
        version = services.table_version_approve(version=version, actor=signed_in_user(request))
        return Response(version_data(version, request.user))


class TableTomlView(OwnerMixin, APIView):
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticatedOrReadOnly]

    @extend_schema(responses={(200, "application/toml"): OpenApiTypes.STR})
    def get(self, request: Request, slug: str) -> HttpResponse:
        view = selectors.table_view(owner_key=self.owner_key())
        text = table_to_toml(
            owner=view.owner_key,
            version=view.version.number if view.version else None,
            entries=[(r.recipient, r.millibips) for r in view.rows],
            comment="default table (none declared)" if view.is_default else None,
            notes={r.recipient: r.note for r in view.rows if r.note},
            display=lambda key: recipient_shown(key=key, user=request.user),
        )
        response = HttpResponse(text, content_type="application/toml; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="faiross.toml"'
        return response


class TableImportView(OwnerMixin, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": TableImportInput},
        responses={201: OpenApiTypes.OBJECT},
    )
    @idempotent
    def post(self, request: Request, slug: str) -> Response:
        owner_key = self.owner_key()
        serializer = TableImportInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        version, warnings = services.table_import_file(
            owner_key=owner_key,
            actor=signed_in_user(request),
            filename=upload.name or "upload",
            content=upload.read(),
            share_millibips=serializer.validated_data["share_millibips"],
            policy=serializer.validated_data["policy"],
        )
        return Response(version_data(version, request.user) | {"warnings": warnings}, status=201)
