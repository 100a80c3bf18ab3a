"""Account pages around allauth: the settings page (API tokens), GitHub sign-in only when it
is configured, and the "too many requests" answer of the sign-in rate limits."""

from __future__ import annotations

from allauth.account import app_settings as account_settings
from allauth.core.internal.ratelimit import parse_rates
from allauth.socialaccount.adapter import get_adapter as social_adapter
from allauth.socialaccount.providers.github import views as github_views
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from faiross.kernel.forms import form_add_service_errors

from . import selectors
from .auth import session_second_factor, signed_in_user
from .forms import ApiTokenForm
from .models import ApiToken
from .services.tokens import api_token_create, api_token_revoke

NEW_TOKEN_SESSION_KEY = "api_token_new"


@login_required
def user_settings(request: HttpRequest) -> HttpResponse:
    """The settings page: API tokens (create with a name, list, revoke) and account links.

    A new key is kept in the session only until the page after the POST shows it, once.
    """
    user = signed_in_user(request)
    form = ApiTokenForm()
    if request.method == "POST":
        if "revoke" in request.POST:
            try:
                token = api_token_revoke(user=user, token_id=int(request.POST["revoke"]))
            except (ValueError, ApiToken.DoesNotExist):
                raise Http404("No such token.") from None
            messages.success(request, f"Token “{token.name}” ({token.prefix}…) was revoked.")
            return redirect("settings")
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                token, key = api_token_create(
                    user=user,
                    name=form.cleaned_data["name"],
                    second_factor=session_second_factor(request),
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                request.session[NEW_TOKEN_SESSION_KEY] = {"id": token.pk, "key": key}
                return redirect("settings")
    new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    return render(
        request,
        "account/settings.html",
        {
            "form": form,
            "tokens": selectors.api_tokens_of_user(user=user),
            "new_token": new_token if isinstance(new_token, dict) else None,
            "session_second_factor": session_second_factor(request),
            "github_enabled": github_sign_in_enabled(request),
        },
        status=400 if form.errors else 200,
    )


def github_sign_in_enabled(request: HttpRequest) -> bool:
    """Whether a GitHub app is configured (settings or admin), so GitHub sign-in can work."""
    return bool(social_adapter(request).list_apps(request, provider="github"))


def github_login(request: HttpRequest) -> HttpResponse:
    """allauth's GitHub sign-in, or a page saying it is not available here (404) when no
    GitHub app is configured (allauth would answer 500)."""
    if not github_sign_in_enabled(request):
        return _github_unavailable(request)
    return github_views.oauth2_login(request)


def github_callback(request: HttpRequest) -> HttpResponse:
    """allauth's GitHub callback, or the same 404 page when GitHub is not configured."""
    if not github_sign_in_enabled(request):
        return _github_unavailable(request)
    return github_views.oauth2_callback(request)


def _github_unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "account/github_unavailable.html", status=404)


# The allauth rate limits (ACCOUNT_RATE_LIMITS) that answer 429 on each page. (Failed
# sign-ins, "login_failed", are refused on the form instead.)
_RATE_LIMIT_ACTIONS = {
    "account_login": ("login",),
    "account_signup": ("signup",),
    "account_reset_password": ("reset_password",),
    "account_reset_password_from_key": ("reset_password_from_key",),
    "account_change_password": ("change_password",),
    "account_email": ("manage_email",),
    "account_reauthenticate": ("reauthenticate",),
}


def _retry_after_seconds(request: HttpRequest) -> int:
    """The longest window among the rate limits of the page asked for: after it, every
    counter that can have refused the request has started again."""
    match = getattr(request, "resolver_match", None)
    rates = account_settings.RATE_LIMITS
    actions = _RATE_LIMIT_ACTIONS.get(match.url_name or "", ()) if match else ()
    durations = [
        rate.duration for action in actions for rate in parse_rates(rates.get(action) or "")
    ]
    return max(int(max(durations, default=60)), 1)


def too_many_requests(request: HttpRequest) -> HttpResponse:
    """The 429 answer of allauth's rate limits (``handler429`` in the root URLconf), with
    ``Retry-After``."""
    seconds = _retry_after_seconds(request)
    response = render(request, "account/429.html", {"retry_after": seconds}, status=429)
    response["Retry-After"] = str(seconds)
    return response
