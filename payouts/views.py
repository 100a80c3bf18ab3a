import csv
import functools
import io
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from faiross.kernel.forms import CHANGE, CONFIRM, form_step
from faiross.kernel.money import amount_parse, minor_to_decimal_str, money_format
from faiross.kernel.page_cache import public_page
from faiross.kernel.pdf import pdf_render
from faiross.kernel.recipients import recipient_label, recipient_split, user_key
from payouts.connect import accounts, claims, webhooks
from payouts.distribution.explain import received_lines
from payouts.distribution.report import sankey_svg
from projects.auth import signed_in_user
from projects.models import Project
from projects.privacy import viewer_is_staff

from . import selectors
from .models import ConnectedAccount, DistributionRun, TaxForm


@login_required
def earnings(request: HttpRequest) -> HttpResponse:
    recipient = user_key(request.user.get_username())
    return render(
        request,
        "payouts/earnings.html",
        {
            "recipient": recipient,
            "balances": selectors.recipient_balances(recipient=recipient),
            "received": received_lines(recipient=recipient),
            "account": _own_account(request),
            "payouts": selectors.payouts_of_user(user=signed_in_user(request)),
            "claimable": selectors.claimable_escrow(user=request.user),
            "years": selectors.statement_years(recipient=recipient),
        },
    )


def run_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(DistributionRun.objects.order_by("-id"), 30).get_page(request.GET.get("page"))
    return render(request, "payouts/run_list.html", {"page": page})


@public_page
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A run's report: in full for staff; for everyone else project-level aggregates only
    (people are counted and summed, never named: money rule 9)."""
    # The snapshot (every table of the run: megabytes at 100,000 projects) is not shown.
    run = get_object_or_404(DistributionRun.objects.defer("snapshot"), pk=pk)
    full = viewer_is_staff(user=request.user)
    report = (run.report or {}) if full else _run_report_public(run)
    names = _sankey_names(report, reveal=full)
    currencies = []
    for currency, data in sorted(report.items()):
        svg = sankey_svg(
            flows=data.get("flows", []),
            currency=currency,
            names=names,
            through={str(n["node"]): int(n["pass_through"]) for n in data.get("nodes", [])},
        )
        currencies.append(
            {"currency": currency, "data": data, "sankey": mark_safe(svg)}  # noqa: S308
        )
    return render(
        request,
        "payouts/run_detail.html",
        {
            "run": run,
            "currencies": currencies,
            "full_report": full,
            "inflow_count": run.inflows.count(),
        },
    )


RUN_REPORT_PUBLIC_SECONDS = 24 * 3600


def _run_report_public(run: DistributionRun) -> dict[str, dict[str, object]]:
    """The public report, computed once per done run (a done run's allocations never change;
    computing it reads all of them, a million rows for a large run)."""
    if run.status != DistributionRun.Status.DONE:
        return selectors.run_report_public(run=run)
    return cache.get_or_set(  # type: ignore[no-any-return,return-value]
        f"run-report-public:{run.pk}",
        lambda: selectors.run_report_public(run=run),
        RUN_REPORT_PUBLIC_SECONDS,
    )


def _sankey_names(report: dict[str, Any], *, reveal: bool) -> dict[str, str]:
    """What the Sankey calls each key of the report's flows: projects by name (one query),
    others by :func:`recipient_label`, "people of X" as "People paid by <X's name>"."""
    keys = {
        str(f[end])
        for data in report.values()
        for f in data.get("flows", [])
        for end in ("source", "target")
    }
    keys |= {str(n["node"]) for data in report.values() for n in data.get("nodes", [])}
    bases = {
        k.removeprefix(f"{selectors.PEOPLE_LABEL} of ").removesuffix(" (reserve)") for k in keys
    }
    slugs = [recipient_split(k)[1] for k in bases if k.startswith("project:")]
    projects = dict(Project.objects.filter(slug__in=slugs).values_list("slug", "name"))

    def name(key: str) -> str:
        if key.startswith("project:") and (found := projects.get(key.removeprefix("project:"))):
            return found
        return recipient_label(key, reveal=reveal)

    names = {}
    for key in keys:
        if key.startswith(f"{selectors.PEOPLE_LABEL} of "):
            names[key] = f"People paid by {name(key.removeprefix(f'{selectors.PEOPLE_LABEL} of '))}"
        elif key.endswith(" (reserve)"):
            names[key] = f"{name(key.removesuffix(' (reserve)'))} (reserve)"
        else:
            names[key] = name(key)
    return names


# --- payouts (issue 6): Get paid, claiming, statements, Stripe webhooks ------------------------

log = logging.getLogger(__name__)


def _own_account(request: HttpRequest) -> ConnectedAccount | None:
    return ConnectedAccount.objects.filter(user=signed_in_user(request)).first()


def _stripe_failed(request: HttpRequest, exc: Exception) -> HttpResponseRedirect:
    log.warning("Stripe call failed: %s", exc)
    messages.error(
        request, "Stripe could not be reached just now; nothing was changed. Try again shortly."
    )
    return HttpResponseRedirect(reverse("payouts:get_paid"))


def _threshold_understood(amount: int) -> str:
    """What a typed threshold means, as the confirmation says it: the number applies to each
    currency's balance, so it is written in each of them."""
    others = ", ".join(
        money_format(amount=amount, currency=c) for c in settings.FAIROSS_CURRENCIES if c != "usd"
    )
    text = (
        f"Your payout threshold will be {money_format(amount=amount, currency='usd')}: a "
        "balance is paid out once it reaches it."
    )
    return text + (f" The same number in the other currencies: {others}." if others else "")


def _threshold_read(raw: str) -> int:
    """``raw`` (typed in the person's language) as minor units; below the minimum is refused
    here in money (the service refuses it again when saving)."""
    # One number for every currency (the page says so); read as USD.
    amount = amount_parse(text=raw, currency="usd", field="threshold")
    minimum = settings.FAIROSS_PAYOUT_THRESHOLD_MIN
    if amount < minimum:
        shown = money_format(amount=minimum, currency="usd")
        raise ValidationError({"threshold": f"The threshold must be at least {shown}."})
    return amount


@login_required
def get_paid(request: HttpRequest) -> HttpResponse:
    """Payout status, the onboarding button, the payout threshold and the tax-form status.

    The threshold is set in two steps: the page first says the amount it understood, and
    saves it only when confirmed ("Change" goes back to the field, still filled in)."""
    account = _own_account(request)
    error = understood = ""
    typed: str | None = None  # what the field shows instead of the saved threshold
    if request.method == "POST":
        step = form_step(request.POST)
        typed = (request.POST.get("threshold") or "").strip()
        if account is None:
            error = "Set up your Stripe account first."
        elif step != CHANGE:
            try:
                amount = _threshold_read(typed)
                if step == CONFIRM:
                    accounts.payout_threshold_set(account=account, amount=amount)
            except ValidationError as exc:
                error = "; ".join(m for msgs in exc.message_dict.values() for m in msgs)
            else:
                if step == CONFIRM:
                    shown = money_format(amount=amount, currency="usd")
                    messages.success(request, f"Payout threshold saved: {shown}.")
                    return HttpResponseRedirect(reverse("payouts:get_paid"))
                understood = _threshold_understood(amount)
    return render(
        request,
        "payouts/get_paid.html",
        {
            "account": account,
            "threshold": accounts.payout_threshold_of(account=account),
            "threshold_typed": typed,
            "threshold_understood": understood,
            "threshold_min": settings.FAIROSS_PAYOUT_THRESHOLD_MIN,
            "threshold_error": error,
            "confirm": CONFIRM,
            "change": CHANGE,
            "tax_form": TaxForm.objects.filter(user=signed_in_user(request)).first(),
            "tax_threshold": settings.FAIROSS_TAX_FORM_THRESHOLD,
        },
        status=400 if error else 200,
    )


def _onboarding_redirect(request: HttpRequest, account: ConnectedAccount) -> HttpResponseRedirect:
    url = accounts.connected_account_link(
        account=account,
        return_url=request.build_absolute_uri(reverse("payouts:connect_return")),
        refresh_url=request.build_absolute_uri(reverse("payouts:connect_refresh")),
    )
    return HttpResponseRedirect(url)


def _stripe_call(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view whose failing Stripe call answers with a message and a redirect to Get paid."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any) -> HttpResponse:
        import stripe

        try:
            return view(request, *args)
        except stripe.StripeError as exc:
            return _stripe_failed(request, exc)

    return wrapper


def _with_own_account(view: Callable[..., HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A view given the person's connected account; without one, back to Get paid."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        account = _own_account(request)
        if account is None:
            return HttpResponseRedirect(reverse("payouts:get_paid"))
        return view(request, account)

    return wrapper


@login_required
@require_POST
@_stripe_call
def connect_start(request: HttpRequest) -> HttpResponse:
    """Create the Stripe account if needed and send the person to Stripe's onboarding."""
    account = accounts.connected_account_get_or_create(user=request.user)
    return _onboarding_redirect(request, account)


@login_required
@_with_own_account
@_stripe_call
def connect_refresh(request: HttpRequest, account: ConnectedAccount) -> HttpResponse:
    """Stripe sends people here when an onboarding link expired or was used: make a new one."""
    return _onboarding_redirect(request, account)


@login_required
@_with_own_account
@_stripe_call
def connect_return(request: HttpRequest, account: ConnectedAccount) -> HttpResponse:
    """Back from onboarding: fetch the account's status from Stripe."""
    account = accounts.connected_account_refresh(account=account)
    if account.status == ConnectedAccount.Status.ENABLED:
        messages.success(request, "Your Stripe account can receive payouts.")
    elif account.status == ConnectedAccount.Status.RESTRICTED:
        messages.warning(request, "Stripe needs more information before it can pay you.")
    else:
        messages.info(request, "Onboarding is not finished yet: continue when you are ready.")
    return HttpResponseRedirect(reverse("payouts:get_paid"))


@login_required
@require_POST
def claim(request: HttpRequest) -> HttpResponse:
    identity = (request.POST.get("identity") or "").strip()[:300]
    try:
        txns = claims.identity_claim(user=request.user, identity=identity)
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for m in msgs:
                messages.error(request, m)
    else:
        if txns:
            messages.success(request, f"Claimed {identity}: the money is now in your balance.")
        else:
            messages.success(request, f"Claimed {identity}: future money comes to you directly.")
    return HttpResponseRedirect(reverse("payouts:earnings"))


@login_required
def statement(request: HttpRequest, year: int, fmt: str) -> HttpResponse:
    """A year's statement as CSV or PDF."""
    if not 2000 <= year <= 2999 or fmt not in ("csv", "pdf"):
        raise Http404
    recipient = f"user:{request.user.get_username()}"
    lines = selectors.statement_lines(recipient=recipient, year=year)
    filename = f"faiross-statement-{request.user.get_username()}-{year}.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["date", "kind", "description", "reference", "currency", "received", "paid_out"]
        )
        for line in lines:
            writer.writerow(
                [
                    line["date"].isoformat(),
                    line["kind"],
                    _csv_safe(str(line["description"])),
                    _csv_safe(str(line["reference"])),
                    line["currency"],
                    # decimal amounts in the currency's units, as spreadsheets read them
                    minor_to_decimal_str(int(line["received"]), str(line["currency"])),
                    minor_to_decimal_str(int(line["paid_out"]), str(line["currency"])),
                ]
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        totals: dict[str, list[int]] = {}
        for line in lines:
            t = totals.setdefault(str(line["currency"]), [0, 0])
            t[0] += int(line["received"])
            t[1] += int(line["paid_out"])
        username = request.user.get_username()
        html = render_to_string(
            "payouts/statement_pdf.html",
            {
                "name": signed_in_user(request).get_full_name() or username,
                "username": username,
                "recipient": recipient,
                "user": request.user,
                "year": year,
                "lines": lines,
                "totals": [(cur, rec, paid) for cur, (rec, paid) in sorted(totals.items())],
            },
        )
        response = HttpResponse(pdf_render(html=html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_safe(text: str) -> str:
    """No spreadsheet formulas from user-controlled text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Stripe (and Connect) events: verified, stored once, processed in their own transaction."""
    try:
        event = webhooks.stripe_event_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except webhooks.WebhookSignatureError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    record, _ = webhooks.stripe_event_record(event=event)
    record = webhooks.stripe_event_process(event_id=record.event_id)
    if record.status == record.Status.FAILED:
        return JsonResponse({"id": record.event_id, "status": record.status}, status=500)
    return JsonResponse({"id": record.event_id, "status": record.status})
