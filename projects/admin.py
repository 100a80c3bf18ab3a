from django.contrib import admin

from .models import Invitation, Membership, Project, ProjectPurl


class PurlInline(admin.TabularInline):
    model = ProjectPurl
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["slug", "name", "purls__purl"]
    inlines = [PurlInline, MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["project", "email", "user", "role", "status", "created_at"]
    list_filter = ["status", "role"]
    raw_id_fields = ["project", "user", "invited_by"]
