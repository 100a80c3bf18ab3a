"""Pages of a person's privacy (money rule 9): the "Privacy" settings form and the public
profile of people who opted in. Thin: the choice is saved by
``projects.services.privacy.user_profile_privacy_set``, read by ``projects.privacy``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from faiross.kernel.recipients import user_key

from .auth import signed_in_user
from .models import Membership, UserProfile
from .privacy import public_profile_user
from .services.privacy import user_profile_privacy_set


class PrivacyForm(forms.Form):
    public = forms.BooleanField(
        required=False,
        label="Public profile",
        help_text="Show what I received from FairOSS on my public profile page.",
    )


@login_required
def privacy_settings(request: HttpRequest) -> HttpResponse:
    """The person's choice: private (the default) or a public profile."""
    user = signed_in_user(request)
    profile = UserProfile.objects.filter(user=user).first()
    if request.method == "POST":
        form = PrivacyForm(request.POST)
        if form.is_valid():
            public = form.cleaned_data["public"]
            user_profile_privacy_set(user=user, public=public)
            messages.success(
                request,
                "Your profile is public: anyone can see what you received."
                if public
                else "Your profile is private: only you and FairOSS staff see what you received.",
            )
            return redirect("privacy")
    else:
        form = PrivacyForm(initial={"public": bool(profile and profile.public)})
    return render(
        request,
        "account/privacy.html",
        {"form": form, "public": bool(profile and profile.public), "username": user.username},
    )


def public_profile(request: HttpRequest, username: str) -> HttpResponse:
    """An opted-in person's page; 404 for everyone else, as for an unknown name (so it does
    not even tell whether the account exists)."""
    person = public_profile_user(username=username)
    if person is None:
        raise Http404("No public profile with this name.")
    memberships = (
        Membership.objects.filter(user=person).select_related("project").order_by("project__name")
    )
    return render(
        request,
        "account/profile.html",
        {"person": person, "recipient": user_key(person.username), "memberships": memberships},
    )
