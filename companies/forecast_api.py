"""API v1 forecast: ``GET /api/v1/forecast/?recipient=…`` (an estimate, marked as one)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payouts.api import BalancesInput
from payouts.selectors import recipient_money_visible_to

from .forecast import SOURCES, forecast_for

ForecastOutput = inline_serializer(
    "Forecast",
    {
        "recipient": serializers.CharField(),
        "estimate": serializers.BooleanField(
            help_text="Always true: expected money, computed on today's tables, not a promise"
        ),
        "measure": serializers.ChoiceField(
            choices=["credited", "received"],
            help_text="credited: what a person would be credited; received: what would flow "
            "into a project or company",
        ),
        "expected_cutoff": serializers.DateTimeField(
            help_text="when the next run is expected (last cutoff + the usual gap)"
        ),
        "computed_at": serializers.DateTimeField(),
        "amounts": serializers.ListField(
            child=inline_serializer(
                "ForecastAmount",
                {
                    "currency": serializers.CharField(),
                    "amount": serializers.IntegerField(help_text="minor units, expected"),
                },
            )
        ),
        "money_in": serializers.ListField(
            child=inline_serializer(
                "ForecastMoneyIn",
                {
                    "source": serializers.ChoiceField(choices=list(SOURCES)),
                    "currency": serializers.CharField(),
                    "amount": serializers.IntegerField(help_text="minor units, all companies"),
                },
            ),
            help_text="the money the estimate assumes enters the next run, by source",
        ),
    },
)


class ForecastView(APIView):
    """What the next distribution run is expected to bring ``recipient``: money received and
    not yet distributed, escrow to be released, open invoices and pledge periods beginning
    before the run, split by the real engine on the tables active now. An estimate. A
    person's (``user:``, ``github:``, ``email:``) only to that person and staff, else 404."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("recipient", str, required=True, description="e.g. user:alice"),
        ],
        responses={200: ForecastOutput},
    )
    def get(self, request: Request) -> Response:
        serializer = BalancesInput(data={"recipient": request.query_params.get("recipient", "")})
        serializer.is_valid(raise_exception=True)
        recipient = serializer.validated_data["recipient"]
        if not recipient_money_visible_to(recipient=recipient, user=request.user):
            raise Http404("Not found.")  # a person's money is private (money rule 9)
        return Response(forecast_for(recipient=recipient).as_dict())
