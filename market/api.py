"""API v1 of the market's primary side: tickers, offerings, commitments, holdings, cash.

Thin: input serializers parse, services decide (:mod:`market.services`), selectors read.
The secondary market's orders and trades are :mod:`market.engine`'s (mounted alongside).
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from faiross.kernel.api_fields import CurrencyField, StrictIntegerField
from projects.auth import signed_in_user
from projects.idempotency import idempotent

from . import selectors
from .models import Commitment, Offering, Ticker
from .services import offerings

# --- shapes --------------------------------------------------------------------------------


class TickerOut(serializers.Serializer):
    symbol = serializers.CharField()
    project = serializers.CharField(source="project.slug")
    status = serializers.CharField()
    currency = serializers.CharField()
    unit_millibips = serializers.IntegerField()
    cap_millibips = serializers.IntegerField()
    units_outstanding = serializers.IntegerField()
    last_price = serializers.IntegerField(allow_null=True)
    tradable = serializers.BooleanField()


def ticker_data(t: Ticker) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "project": t.project,
        "status": t.status,
        "currency": t.currency,
        "unit_millibips": t.unit_millibips,
        "cap_millibips": t.cap_millibips,
        "units_outstanding": selectors.units_outstanding(ticker=t),
        "last_price": selectors.last_price(ticker=t),
        "tradable": selectors.ticker_tradable(ticker=t),
    }


class OfferingOut(serializers.Serializer):
    id = serializers.IntegerField()
    ticker = serializers.CharField(source="ticker.symbol")
    number = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    millibips = serializers.IntegerField()
    units = serializers.IntegerField()
    currency = serializers.CharField()
    price = serializers.IntegerField(help_text="Fixed price, or the lowest bid (auction)")
    minimum_raise = serializers.IntegerField()
    fee_bips = serializers.IntegerField()
    deadline = serializers.DateTimeField()
    cancel_until = serializers.SerializerMethodField()
    disclosure_version = serializers.SerializerMethodField()
    clearing_price = serializers.IntegerField(allow_null=True)
    units_sold = serializers.IntegerField()
    proceeds = serializers.IntegerField()

    def get_cancel_until(self, o: Offering) -> str:
        return offerings.cancel_deadline(offering=o).isoformat()

    def get_disclosure_version(self, o: Offering) -> int:
        return offerings.disclosure_current(offering=o).version


class CommitmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    offering = serializers.IntegerField(source="offering_id")
    ticker = serializers.CharField(source="offering.ticker.symbol")
    units = serializers.IntegerField()
    price_limit = serializers.IntegerField(allow_null=True)
    amount = serializers.IntegerField()
    status = serializers.CharField()
    disclosure_version = serializers.IntegerField()
    units_allocated = serializers.IntegerField()
    amount_paid = serializers.IntegerField()
    amount_refunded = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CommitmentIn(serializers.Serializer):
    units = StrictIntegerField(min_value=1, max_value=offerings.MAX_UNITS)
    price_limit = StrictIntegerField(min_value=1, max_value=10**12, required=False, allow_null=True)
    disclosure_version = StrictIntegerField(min_value=1)


class ReconfirmIn(serializers.Serializer):
    disclosure_version = StrictIntegerField(min_value=1)


# --- views ---------------------------------------------------------------------------------


class TickersView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: TickerOut(many=True)})
    def get(self, request: Request) -> Response:
        rows = [ticker_data(t) for t in selectors.tickers_listed()]
        return Response(TickerOut(rows, many=True).data)


class TickerDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: TickerOut})
    def get(self, request: Request, symbol: str) -> Response:
        ticker = selectors.ticker_public(symbol=symbol)
        if ticker is None:
            return Response({"detail": "No such ticker."}, status=status.HTTP_404_NOT_FOUND)
        return Response(TickerOut(ticker_data(ticker)).data)


class OfferingsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OfferingOut(many=True)})
    def get(self, request: Request) -> Response:
        rows = (
            Offering.objects.exclude(status__in=["proposed", "rejected", "withdrawn"])
            .exclude(ticker__status="pending")
            .select_related("ticker")
            .order_by("-pk")[:200]
        )
        return Response(OfferingOut(rows, many=True).data)


def _public_offering(pk: int) -> Offering:
    return get_object_or_404(
        Offering.objects.exclude(status__in=["proposed", "rejected", "withdrawn"]).select_related(
            "ticker"
        ),
        pk=pk,
    )


class OfferingDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OfferingOut})
    def get(self, request: Request, pk: int) -> Response:
        return Response(OfferingOut(_public_offering(pk)).data)


class CommitmentsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: CommitmentOut(many=True)})
    def get(self, request: Request) -> Response:
        rows = selectors.commitments_of(user=signed_in_user(request))[:500]
        return Response(CommitmentOut(rows, many=True).data)


class OfferingCommitView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=CommitmentIn, responses={201: CommitmentOut})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = CommitmentIn(data=request.data)
        data.is_valid(raise_exception=True)
        commitment = offerings.commitment_create(
            offering=_public_offering(pk),
            investor=signed_in_user(request),
            units=data.validated_data["units"],
            price_limit=data.validated_data.get("price_limit"),
            disclosure_version=data.validated_data["disclosure_version"],
        )
        return Response(CommitmentOut(commitment).data, status=status.HTTP_201_CREATED)


def _own_commitment(request: Request, pk: int) -> Commitment:
    return get_object_or_404(
        Commitment.objects.select_related("offering__ticker"),
        pk=pk,
        investor=signed_in_user(request),
    )


class CommitmentCancelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: CommitmentOut})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        commitment = offerings.commitment_cancel(
            commitment=_own_commitment(request, pk), actor=signed_in_user(request)
        )
        return Response(CommitmentOut(commitment).data)


class CommitmentReconfirmView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ReconfirmIn, responses={200: CommitmentOut})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = ReconfirmIn(data=request.data)
        data.is_valid(raise_exception=True)
        commitment = offerings.commitment_reconfirm(
            commitment=_own_commitment(request, pk),
            actor=signed_in_user(request),
            disclosure_version=data.validated_data["disclosure_version"],
        )
        return Response(CommitmentOut(commitment).data)


HoldingOut = inline_serializer(
    "MarketHolding",
    {
        "ticker": serializers.CharField(),
        "units": serializers.IntegerField(),
        "reserved_units": serializers.IntegerField(),
    },
    many=True,
)


class HoldingsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: HoldingOut})
    def get(self, request: Request) -> Response:
        rows = selectors.holdings_of(user=signed_in_user(request))
        return Response(
            [
                {"ticker": h.ticker.symbol, "units": h.units, "reserved_units": h.reserved}
                for h in rows
            ]
        )


class CashQuery(serializers.Serializer):
    currency = CurrencyField(required=False, default="usd")


class CashView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[CashQuery],
        responses={
            200: inline_serializer(
                "MarketCash",
                {
                    "currency": serializers.CharField(),
                    "cash": serializers.IntegerField(help_text="Market cash, minor units"),
                    "available": serializers.IntegerField(
                        help_text="Distributions not paid out yet, minor units"
                    ),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        query = CashQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        currency = query.validated_data["currency"]
        user = signed_in_user(request)
        balances = selectors.cash_of(user=user, currency=currency)
        return Response({"currency": currency, **balances})
