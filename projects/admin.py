from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .auth import signed_in_user
from .models import Invitation, Membership, Project, ProjectPurl, ProjectVerification
from .verification import project_verify_by_staff


class PurlInline(admin.TabularInline):
    model = ProjectPurl
    extra = 0
    # Proved only by a verification (projects/verification/services.py), never by hand here.
    readonly_fields = ["verified"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class VerificationInline(admin.TabularInline):
    """The proofs of the project, newest first: append-only, so read-only here."""

    model = ProjectVerification
    fk_name = "project"
    extra = 0
    can_delete = False
    fields = ["created_at", "method", "user", "note", "evidence"]
    readonly_fields = ["created_at", "method", "user", "note", "evidence"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class StaffVerifyForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text="What you checked, and how (kept with the proof).",
    )


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "is_verified", "created_at"]
    list_filter = ["status", ("verified_at", admin.EmptyFieldListFilter)]
    search_fields = ["slug", "name", "purls__purl"]
    readonly_fields = ["verified_at", "verification"]
    inlines = [PurlInline, MembershipInline, VerificationInline]
    # A URL typed without a scheme is read as https (Django 6's default, asked for now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["verify_by_hand"]

    @admin.display(boolean=True, description="verified")
    def is_verified(self, obj: Project) -> bool:
        return obj.is_verified

    @admin.action(description="Verify ownership by hand (with a note)")
    def verify_by_hand(
        self, request: HttpRequest, queryset: QuerySet[Project]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose one project to verify.", messages.WARNING)
            return None
        project = queryset.get()
        return HttpResponseRedirect(reverse("admin:projects_project_verify", args=[project.pk]))

    def get_urls(self):  # type: ignore[no-untyped-def]
        return [
            path(
                "<int:object_id>/verify/",
                self.admin_site.admin_view(self.verify_view),
                name="projects_project_verify",
            ),
            *super().get_urls(),
        ]

    def verify_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Only FairOSS staff can verify a project by hand.")
        project = get_object_or_404(Project, pk=object_id)
        change_url = reverse("admin:projects_project_change", args=[project.pk])
        status = 200
        if request.method == "POST":
            form = StaffVerifyForm(request.POST)
            if form.is_valid():
                try:
                    project_verify_by_staff(
                        project=project,
                        staff=signed_in_user(request),
                        note=form.cleaned_data["note"],
                    )
                except ValidationError as exc:
                    for message in exc.messages:
                        form.add_error(None, message)
                else:
                    self.message_user(request, f"{project.slug} is verified (staff).")
                    return HttpResponseRedirect(change_url)
            status = 400
        else:
            form = StaffVerifyForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Verify ownership of {project.slug} by hand",
            "project": project,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(
            request, "admin/projects/project/verify.html", context, status=status
        )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["project", "email", "user", "role", "status", "created_at"]
    list_filter = ["status", "role"]
    raw_id_fields = ["project", "user", "invited_by"]
