from __future__ import annotations

from django.db.models import Prefetch
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from faiross.kernel.page_cache import public_page

from . import services
from .auth import signed_in_user
from .idempotency import idempotent
from .models import Membership, Project
from .serializers import (
    ProjectCreateInput,
    ProjectSerializer,
    ProjectUpdateInput,
    ProjectVerifyInput,
)
from .verification import project_verify_by_staff


@method_decorator(public_page, name="dispatch")
class ProjectViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Projects: anyone reads; signed-in people create (and become steward); stewards change."""

    lookup_field = "slug"
    serializer_class = ProjectSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return (
            Project.objects.select_related("verification")
            .prefetch_related(
                "purls",
                Prefetch("memberships", queryset=Membership.objects.select_related("user")),
            )
            .order_by("slug")
        )

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "create":
            return ProjectCreateInput
        if self.action == "partial_update":
            return ProjectUpdateInput
        if self.action == "verify":
            return ProjectVerifyInput
        return ProjectSerializer

    @extend_schema(request=ProjectCreateInput, responses={201: ProjectSerializer})
    @idempotent
    def create(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        serializer = ProjectCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.project_create(
            creator=signed_in_user(request), **serializer.validated_data
        )
        project = self.get_queryset().get(pk=project.pk)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProjectUpdateInput, responses={200: ProjectSerializer})
    def partial_update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        project = self.get_object()
        serializer = ProjectUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.project_update(
            project=project, actor=signed_in_user(request), **serializer.validated_data
        )
        project = self.get_queryset().get(pk=project.pk)
        return Response(ProjectSerializer(project).data)

    def update(self, request: Request, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(request=ProjectVerifyInput, responses={200: ProjectSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="verify",
        permission_classes=[permissions.IsAdminUser],
    )
    def verify(self, request: Request, slug: str | None = None) -> Response:
        """Staff verify the project by hand: ``{"note"}`` says what they checked."""
        project = self.get_object()
        serializer = ProjectVerifyInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        project_verify_by_staff(
            project=project, staff=signed_in_user(request), note=serializer.validated_data["note"]
        )
        project = self.get_queryset().get(pk=project.pk)
        return Response(ProjectSerializer(project).data)
