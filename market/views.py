"""The market's pages: tickers, offerings, the investor's dashboard, statements.

Thin: each view parses a form and calls a service; money-moving forms show what they
understood (amounts and fees) before the person confirms (``faiross.kernel.forms``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.views.decorators.http import require_POST

from faiross.kernel.forms import CONFIRM, form_add_service_errors, form_step
from faiross.kernel.money import minor_to_decimal_str, money_format
from faiross.kernel.pdf import pdf_render
from projects.auth import signed_in_user
from projects.models import KnownDependency, Project
from projects.selectors import table_versions, table_view
from projects.services.tables import project_table_roles

from . import selectors, statements
from .forms import (
    AmountForm,
    CapForm,
    CommitForm,
    DisclosureForm,
    ListingForm,
    OfferingForm,
    ProfileForm,
)
from .models import Commitment, Deposit, InvestorProfile, Offering, Ticker
from .services import cash, investors, limits, listing, offerings

CURRENCY = "usd"


def _steward(request: HttpRequest, project: Project) -> bool:
    return bool(project_table_roles(slug=project.slug, user=request.user)[1])


def _market_data_template() -> str | None:
    try:
        return select_template(["market/_market_data.html"]).template.name
    except TemplateDoesNotExist:
        return None


def market_home(request: HttpRequest) -> HttpResponse:
    open_offerings = (
        Offering.objects.filter(status=Offering.Status.OPEN, ticker__status="approved")
        .select_related("ticker__project")
        .order_by("deadline")
    )
    tickers = [
        (t, selectors.last_price(ticker=t), selectors.units_outstanding(ticker=t))
        for t in selectors.tickers_listed()
    ]
    return render(
        request, "market/home.html", {"tickers": tickers, "open_offerings": open_offerings}
    )


def ticker_page(request: HttpRequest, symbol: str) -> HttpResponse:
    ticker = get_object_or_404(Ticker.objects.select_related("project"), symbol=symbol)
    project = ticker.project
    is_steward = _steward(request, project)
    if ticker.status == Ticker.Status.PENDING and not (is_steward or request.user.is_staff):
        raise Http404
    from disputes.selectors import open_dispute_count_on_project

    per_million, runs_counted = selectors.trailing_distribution_per_unit(ticker=ticker)
    price = selectors.last_price(ticker=ticker)
    implied = (per_million / 1_000_000 / price * 100) if price and runs_counted else None
    context: dict[str, Any] = {
        "ticker": ticker,
        "project": project,
        "table": table_view(owner_key=project.owner_key),
        "versions": table_versions(owner_key=project.owner_key)[:20],
        "dependents": KnownDependency.objects.filter(dependency=project)
        .select_related("project")
        .order_by("project__slug")[:50],
        "yields": selectors.yield_history(ticker=ticker),
        "open_disputes": open_dispute_count_on_project(project=project),
        "dispute_halt": selectors.ticker_dispute_open(ticker=ticker),
        "offerings": selectors.offerings_of(ticker=ticker).exclude(
            status__in=["rejected", "withdrawn"]
        ),
        "series": getattr(ticker, "series", None),
        "last_price": price,
        "implied_yield": implied,
        "per_thousand_year": per_million // 1_000 if runs_counted else None,
        "units_outstanding": selectors.units_outstanding(ticker=ticker),
        "is_steward": is_steward,
        "cap_form": CapForm(),
        "market_data_template": _market_data_template(),
    }
    return render(request, "market/ticker.html", context)


@login_required
def listing_new(request: HttpRequest, slug: str) -> HttpResponse:
    project = get_object_or_404(Project, slug=slug)
    if not _steward(request, project):
        raise PermissionDenied("Only the project's stewards can list it.")
    existing = Ticker.objects.filter(project=project).first()
    if existing is not None:
        return redirect("market:ticker", existing.symbol)
    form = ListingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticker = listing.ticker_list(
                project=project,
                actor=signed_in_user(request),
                symbol=form.cleaned_data["symbol"],
                unit_millibips=form.cleaned_data["unit_percent"],
                cap_millibips=form.cleaned_data["cap_percent"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            messages.success(request, f"{ticker.symbol} is listed; the broker-dealer reviews it.")
            return redirect("market:ticker", ticker.symbol)
    return render(
        request,
        "market/listing_new.html",
        {
            "project": project,
            "form": form,
            "received": listing.project_has_received(project=project),
        },
    )


@login_required
@require_POST
def ticker_cap(request: HttpRequest, symbol: str) -> HttpResponse:
    ticker = get_object_or_404(Ticker, symbol=symbol)
    form = CapForm(request.POST)
    if form.is_valid():
        try:
            listing.ticker_cap_set(
                ticker=ticker,
                actor=signed_in_user(request),
                cap_millibips=form.cleaned_data["cap_percent"],
            )
            messages.success(request, "The cap is set.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("market:ticker", symbol)


@login_required
def offering_new(request: HttpRequest, symbol: str) -> HttpResponse:
    ticker = get_object_or_404(Ticker.objects.select_related("project"), symbol=symbol)
    if not _steward(request, ticker.project):
        raise PermissionDenied("Only the project's stewards can propose an offering.")
    form = OfferingForm(request.POST or None, currency=ticker.currency)
    if request.method == "POST" and form.is_valid():
        try:
            offering = offerings.offering_propose(
                ticker=ticker,
                actor=signed_in_user(request),
                kind=form.cleaned_data["kind"],
                millibips=form.cleaned_data["percent"],
                price=form.cleaned_data["price"],
                minimum_raise=form.cleaned_data["minimum_raise"],
                deadline=form.deadline_at(),
                use_of_proceeds=form.cleaned_data["use_of_proceeds"],
                risks=form.cleaned_data["risks"],
            )
        except ValidationError as exc:
            form_add_service_errors(form, exc)
        else:
            return redirect("market:offering", offering.pk)
    reserve, _ = listing.table_market_millibips(project=ticker.project)
    return render(
        request,
        "market/offering_new.html",
        {
            "ticker": ticker,
            "form": form,
            "reserve": reserve,
            "left": max(0, ticker.cap_millibips - listing.sold_or_offered_millibips(ticker=ticker)),
            "fee_bips": offerings.setting("FAIROSS_MARKET_OFFERING_FEE_BIPS"),
        },
    )


def offering_page(request: HttpRequest, pk: int) -> HttpResponse:
    offering = get_object_or_404(Offering.objects.select_related("ticker__project"), pk=pk)
    ticker = offering.ticker
    is_steward = _steward(request, ticker.project)
    if offering.status in ("proposed", "rejected", "withdrawn") and not (
        is_steward or request.user.is_staff
    ):
        raise Http404
    disclosure = offerings.disclosure_current(offering=offering)
    form = CommitForm(
        request.POST or None,
        currency=offering.currency,
        initial={"disclosure_version": disclosure.version},
    )
    quote = None
    user = request.user
    if request.method == "POST" and request.POST.get("action") == "commit":
        if not user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        if form.is_valid():
            try:
                quote = offerings.commitment_quote(
                    offering=offering,
                    units=form.cleaned_data["units"],
                    price_limit=form.cleaned_data["price_limit"],
                )
                if form_step(request.POST) == CONFIRM:
                    offerings.commitment_create(
                        offering=offering,
                        investor=signed_in_user(request),
                        units=form.cleaned_data["units"],
                        price_limit=form.cleaned_data["price_limit"],
                        disclosure_version=form.cleaned_data["disclosure_version"],
                    )
                    messages.success(
                        request,
                        f"Committed {offering.money(quote['amount'])}; it is held in escrow "
                        "until the offering closes.",
                    )
                    return redirect("market:offering", offering.pk)
            except ValidationError as exc:
                form_add_service_errors(form, exc)
                quote = None
    mine = (
        Commitment.objects.filter(offering=offering, investor=user).order_by("-created_at")
        if user.is_authenticated
        else Commitment.objects.none()
    )
    needed, stewards = offerings.offering_quorum(project=ticker.project)
    context = {
        "offering": offering,
        "ticker": ticker,
        "disclosure": disclosure,
        "disclosures": offering.disclosures.order_by("-version"),
        "form": form,
        "quote": quote,
        "mine": mine,
        "is_steward": is_steward,
        "votes": offering.approvals.select_related("user"),
        "needed": needed,
        "stewards": stewards,
        "committed_units": offerings.offering_committed_units(offering=offering),
        "committed_amount": offerings.offering_committed_amount(offering=offering),
        "cancel_until": offerings.cancel_deadline(offering=offering),
        "disclosure_form": DisclosureForm(
            initial={"use_of_proceeds": disclosure.use_of_proceeds, "risks": disclosure.risks}
        ),
        "cash": cash.cash_balance(user=user, currency=offering.currency)
        if user.is_authenticated
        else None,
        "fee": offerings.offering_fee(offering=offering, proceeds=offering.proceeds),
    }
    return render(request, "market/offering.html", context)


@login_required
@require_POST
def offering_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    offering = get_object_or_404(Offering, pk=pk)
    actor = signed_in_user(request)
    try:
        if action in ("approve", "reject"):
            offerings.offering_vote(offering=offering, actor=actor, approve=action == "approve")
        elif action == "withdraw":
            offerings.offering_withdraw(offering=offering, actor=actor)
        elif action == "disclosure":
            form = DisclosureForm(request.POST)
            if not form.is_valid():
                raise ValidationError(
                    {k: v for k, v in form.errors.items()}  # type: ignore[arg-type]
                )
            offerings.disclosure_revise(offering=offering, actor=actor, **form.cleaned_data)
        elif action == "close":
            if not (request.user.is_staff or _steward(request, offering.ticker.project)):
                raise PermissionDenied
            offerings.offering_close(offering=offering)
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("market:offering", pk)


@login_required
@require_POST
def commitment_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    commitment = get_object_or_404(Commitment, pk=pk, investor=request.user)
    actor = signed_in_user(request)
    try:
        if action == "cancel":
            offerings.commitment_cancel(commitment=commitment, actor=actor)
            messages.success(request, "Cancelled; the amount is back in your cash.")
        elif action == "reconfirm":
            version = offerings.disclosure_current(offering=commitment.offering).version
            offerings.commitment_reconfirm(
                commitment=commitment, actor=actor, disclosure_version=version
            )
            messages.success(request, "Reconfirmed.")
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(
        request.POST.get("next") or reverse("market:offering", args=[commitment.offering_id])
    )


@login_required
def investor_dashboard(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    profile = InvestorProfile.objects.filter(user=user).first()
    profile_form = ProfileForm(
        request.POST if request.POST.get("action") == "profile" else None,
        initial={
            "legal_name": profile.legal_name if profile else user.get_full_name(),
            "country": profile.country if profile else "",
            "annual_income": minor_to_decimal_str(profile.annual_income, CURRENCY)
            if profile and profile.annual_income is not None
            else "",
            "net_worth": minor_to_decimal_str(profile.net_worth, CURRENCY)
            if profile and profile.net_worth is not None
            else "",
        },
    )
    deposit_form = AmountForm(
        request.POST if request.POST.get("action") == "deposit" else None, prefix="deposit"
    )
    move_form = AmountForm(
        request.POST if request.POST.get("action") == "to_cash" else None, prefix="move"
    )
    withdraw_form = AmountForm(
        request.POST if request.POST.get("action") == "withdraw" else None, prefix="withdraw"
    )
    deposit_quote = None
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "profile" and profile_form.is_valid():
                investors.investor_profile_save(user=user, **profile_form.cleaned_data)
                messages.success(request, "Saved. The broker-dealer checks your identity.")
                return redirect("market:dashboard")
            if action == "deposit" and deposit_form.is_valid():
                amount = deposit_form.cleaned_data["amount"]
                fee = cash.card_fee(amount=amount)
                deposit_quote = {"amount": amount, "fee": fee, "credited": amount - fee}
                if form_step(request.POST) == CONFIRM:
                    back = request.build_absolute_uri(reverse("market:dashboard"))
                    deposit = cash.deposit_checkout_start(
                        investor=user,
                        amount=amount,
                        currency=CURRENCY,
                        success_url=back + "?deposit={CHECKOUT_SESSION_ID}",
                        cancel_url=back,
                    )
                    return redirect(deposit.checkout_url)
            if action == "to_cash" and move_form.is_valid():
                cash.available_to_cash(
                    user=user, currency=CURRENCY, amount=move_form.cleaned_data["amount"]
                )
                messages.success(request, "Moved to your market cash.")
                return redirect("market:dashboard")
            if action == "withdraw" and withdraw_form.is_valid():
                w = cash.withdrawal_request(
                    user=user, currency=CURRENCY, amount=withdraw_form.cleaned_data["amount"]
                )
                messages.success(request, w.error or "Sent to your payout account.")
                return redirect("market:dashboard")
        except ValidationError as exc:
            target = {
                "profile": profile_form,
                "deposit": deposit_form,
                "to_cash": move_form,
                "withdraw": withdraw_form,
            }.get(str(action))
            if target is not None:
                form_add_service_errors(target, exc)
    session = request.GET.get("deposit", "")
    if session.startswith("cs_"):
        pending = Deposit.objects.filter(investor=user, checkout_session_id=session).first()
        if pending is not None:
            pending = cash.deposit_checkout_confirm(deposit=pending)
            if pending.status == Deposit.Status.COMPLETED:
                messages.success(
                    request,
                    f"{money_format(amount=pending.amount, currency=pending.currency)} deposited.",
                )
    limit = limits.investment_limit(profile=profile) if profile else None
    used = limits.invested_12_months(user=user, currency=CURRENCY)
    year = dt.date.today().year
    context = {
        "profile": profile,
        "profile_form": profile_form,
        "deposit_form": deposit_form,
        "deposit_quote": deposit_quote,
        "move_form": move_form,
        "withdraw_form": withdraw_form,
        "balances": selectors.cash_of(user=user, currency=CURRENCY),
        "currency": CURRENCY,
        "holdings": selectors.holdings_of(user=user),
        "commitments": selectors.commitments_of(user=user)[:50],
        "distributions": selectors.distributions_received(user=user)[:20],
        "deposits": Deposit.objects.filter(investor=user).order_by("-created_at")[:10],
        "limit": limit,
        "used": used,
        "left": None if limit is None else max(0, limit - used),
        "years": list(range(year, year - 3, -1)),
        "card_fee_bips": cash.setting("FAIROSS_MARKET_CARD_FEE_BIPS"),
        "card_fee_fixed": cash.setting("FAIROSS_MARKET_CARD_FEE_FIXED"),
    }
    return render(request, "market/dashboard.html", context)


@login_required
def statement(request: HttpRequest, year: int, fmt: str) -> HttpResponse:
    """The investor's market statement for a year: holdings, distributions, trades, fees."""
    if not 2000 <= year <= 2999 or fmt not in ("csv", "pdf"):
        raise Http404
    user = signed_in_user(request)
    data = statements.statement_for(user=user, year=year)
    filename = f"faiross-market-{user.get_username()}-{year}.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(statements.CSV_HEADER)
        writer.writerows(statements.csv_rows(data))
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        html = render_to_string("market/statement_pdf.html", {"s": data, "user": user})
        response = HttpResponse(pdf_render(html=html), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
