"""The "Notifications" settings page: which kinds a person gets by email. Thin: choices are
saved by ``projects.notifications.notification_preferences_set``."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .auth import signed_in_user
from .notifications import KINDS, notification_preferences_set, notification_settings


class NotificationsForm(forms.Form):
    """One checkbox per kind (email); an unticked box is a kind turned off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in KINDS:
            self.fields[kind.key] = forms.BooleanField(
                required=False, label=kind.label, help_text=kind.help
            )


@login_required
def notification_settings_page(request: HttpRequest) -> HttpResponse:
    """Show and save the person's email notification choices."""
    user = signed_in_user(request)
    if request.method == "POST":
        form = NotificationsForm(request.POST)
        if form.is_valid():
            notification_preferences_set(user=user, enabled=form.cleaned_data)
            messages.success(request, "Your notification choices are saved.")
            return redirect("notifications")
    else:
        form = NotificationsForm(initial=notification_settings(user=user))
    groups = [
        (group, [form[k.key] for k in kinds])
        for group, kinds in groupby(KINDS, key=lambda k: k.group)
    ]
    return render(
        request,
        "account/notifications.html",
        {"form": form, "groups": groups, "email": user.email},
    )
