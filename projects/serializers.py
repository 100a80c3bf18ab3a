"""API shapes only: validation of business rules happens in services."""

from typing import Any

from rest_framework import serializers

from .models import Project


class ProjectSerializer(serializers.ModelSerializer):
    purls = serializers.SerializerMethodField()
    stewards = serializers.SerializerMethodField()

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


class ProjectCreateSerializer(ProjectSerializer):
    purls = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(max_length=255), required=False, max_length=50
    )
    repo_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    homepage = serializers.CharField(max_length=300, required=False, allow_blank=True)
    slug = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=120, allow_blank=True)


class ProjectUpdateSerializer(ProjectCreateSerializer):
    slug = serializers.CharField(read_only=True)  # type: ignore[assignment]

    class Meta(ProjectSerializer.Meta):
        read_only_fields = ["slug", "status", "stewards", "created_at"]
