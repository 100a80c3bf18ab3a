"""The stewards' page of a project's reserve: propose, approve, reject and withdraw grants.

Thin: the rules live in :mod:`payouts.reserves`. Amounts are typed in currency units and read
by :func:`faiross.kernel.money.amount_parse` in the person's locale; a proposal first shows the
amount it understood and commits only when confirmed. Only the project's stewards and staff see
the page (a grant to a person says what that person received: private, DESIGN rule 9).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from faiross.kernel.forms import form_add_service_errors
from faiross.kernel.money import amount_parse, money_format
from payouts import reserves
from payouts.models import ReserveGrant
from projects.auth import signed_in_user
from projects.models import Project
from projects.services.tables import project_table_roles


class ReserveGrantForm(forms.Form):
    recipient = forms.CharField(
        max_length=300,
        help_text="A member (user:<name>) or another project (project:<slug>).",
    )
    amount = forms.CharField(max_length=40, help_text="In currency units, e.g. 250.00")
    currency = forms.ChoiceField(choices=[])
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["currency"].choices = [  # type: ignore[attr-defined]
            (c, c.upper()) for c in settings.FAIROSS_CURRENCIES
        ]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if "amount" in data and "currency" in data:
            try:
                data["minor"] = amount_parse(text=str(data["amount"]), currency=data["currency"])
            except ValidationError as exc:
                form_add_service_errors(self, exc)
        return data


def _project_for(request: HttpRequest, slug: str) -> Project:
    project = get_object_or_404(Project, slug=slug)
    if not reserves.reserve_grant_can_manage(slug=slug, user=request.user):
        raise Http404("No reserve page for you here.")
    return project


@login_required
def reserve_page(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the reserve and its grants. POST: a proposal, shown for confirmation first."""
    project = _project_for(request, slug)
    form = ReserveGrantForm(request.POST or None)
    understood = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("confirm") != "1":
            understood = money_format(amount=data["minor"], currency=data["currency"])
        else:
            try:
                grant = reserves.reserve_grant_propose(
                    project=project,
                    actor=signed_in_user(request),
                    recipient=data["recipient"],
                    amount=data["minor"],
                    currency=data["currency"],
                    reason=data["reason"],
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                amount = money_format(amount=grant.amount, currency=grant.currency)
                if grant.status == ReserveGrant.Status.EXECUTED:
                    messages.success(request, f"Granted {amount} to {grant.recipient}.")
                else:
                    messages.success(
                        request, f"Grant of {amount} proposed; it waits for approvals."
                    )
                return HttpResponseRedirect(reverse("payouts:reserve", args=[slug]))
    needed, stewards = reserves.reserve_grant_quorum(project=project)
    is_steward = project_table_roles(slug=slug, user=request.user)[1]
    return render(
        request,
        "payouts/reserve_page.html",
        {
            "project": project,
            "form": form,
            "understood": understood,
            "balances": reserves.reserve_balances(slug=slug),
            "grants": reserves.reserve_grants_of(project=project),
            "needed": needed,
            "stewards": stewards,
            "is_steward": is_steward,
            "me": request.user.get_username(),
        },
    )


_ACTIONS = {
    "approve": (reserves.reserve_grant_approve, "approved"),
    "reject": (reserves.reserve_grant_reject, "rejected"),
    "withdraw": (reserves.reserve_grant_withdraw, "withdrawn"),
}


@login_required
@require_POST
def reserve_grant_action(request: HttpRequest, slug: str, pk: int, action: str) -> HttpResponse:
    project = _project_for(request, slug)
    grant = get_object_or_404(ReserveGrant, pk=pk, project=project)
    if action not in _ACTIONS:
        raise Http404("Unknown action.")
    service, done = _ACTIONS[action]
    try:
        grant = service(grant=grant, actor=signed_in_user(request))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        amount = money_format(amount=grant.amount, currency=grant.currency)
        if grant.status == ReserveGrant.Status.EXECUTED:
            messages.success(request, f"Grant #{grant.pk} executed: {amount} granted.")
        else:
            messages.success(request, f"Grant #{grant.pk}: {done}.")
    return HttpResponseRedirect(reverse("payouts:reserve", args=[slug]))
