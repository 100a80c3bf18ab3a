"""API v1 "why did it change": ``GET /api/v1/changes/?recipient=…&from=…&to=…``."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payouts.distribution.changes import ChangeTooLarge, default_runs, run_change_explain

from . import selectors
from .api import BalancesInput
from .models import DistributionRun


class ChangesInput(BalancesInput):
    run_from = serializers.IntegerField(required=False, min_value=1)
    run_to = serializers.IntegerField(required=False, min_value=1)


ChangesOutput = inline_serializer(
    "RunChanges",
    {
        "recipient": serializers.CharField(),
        "from": serializers.IntegerField(),
        "to": serializers.IntegerField(),
        "measure": serializers.ChoiceField(
            choices=["credited", "received"],
            help_text="credited: what a person was credited; received: what flowed into a "
            "project or company",
        ),
        "currencies": serializers.ListField(
            child=inline_serializer(
                "RunChangesCurrency",
                {
                    "currency": serializers.CharField(),
                    "before": serializers.IntegerField(help_text="minor units, run `from`"),
                    "after": serializers.IntegerField(help_text="minor units, run `to`"),
                    "delta": serializers.IntegerField(),
                    "explained": serializers.IntegerField(help_text="sum of the causes"),
                    "rounding": serializers.IntegerField(help_text="delta - explained"),
                },
            )
        ),
        "causes": serializers.ListField(
            child=inline_serializer(
                "RunChangesCause",
                {
                    "kind": serializers.ChoiceField(
                        choices=[
                            "claims",
                            "verification",
                            "table",
                            "dependencies",
                            "inflows",
                            "escrow",
                        ]
                    ),
                    "subject": serializers.CharField(),
                    "description": serializers.CharField(),
                    "currency": serializers.CharField(),
                    "amount": serializers.IntegerField(help_text="minor units, signed"),
                },
            )
        ),
        "escrow_claimed": serializers.ListField(
            child=inline_serializer(
                "RunChangesEscrowClaimed",
                {
                    "identity": serializers.CharField(),
                    "currency": serializers.CharField(),
                    "amount": serializers.IntegerField(help_text="minor units, signed"),
                },
            ),
            help_text="escrow moved by claims between the runs (ledger transfers outside "
            "both runs, not part of the causes)",
        ),
        "without_effect": serializers.IntegerField(
            help_text="changes between the runs that did not move this recipient's figure"
        ),
    },
)


class ChangesView(APIView):
    """How a recipient's money changed between two done runs, by cause (inflows, table
    versions, dependencies, verification, claims), the causes adding up to the change with
    any rounding on its own line. A person's (``user:``, ``github:``, ``email:``) only to
    that person and staff, else 404; projects and companies to anyone. ``from`` defaults to
    the done run before ``to``, ``to`` to the latest done run."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("recipient", str, required=True, description="e.g. project:numpy"),
            OpenApiParameter("from", int, required=False, description="the earlier run's id"),
            OpenApiParameter("to", int, required=False, description="the later run's id"),
        ],
        responses={200: ChangesOutput},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        data: dict[str, object] = {"recipient": params.get("recipient", "")}
        for name, field in (("from", "run_from"), ("to", "run_to")):
            if params.get(name):
                data[field] = params[name]
        serializer = ChangesInput(data=data)
        if not serializer.is_valid():
            errors = dict(serializer.errors)
            for name, field in (("from", "run_from"), ("to", "run_to")):
                if field in errors:
                    errors[name] = errors.pop(field)
            return Response(errors, status=400)
        recipient = serializer.validated_data["recipient"]
        if not selectors.recipient_money_visible_to(recipient=recipient, user=request.user):
            raise Http404("Not found.")  # a person's money is private (money rule 9)
        pair = default_runs(
            run_from=serializer.validated_data.get("run_from"),
            run_to=serializer.validated_data.get("run_to"),
        )
        if pair is None:
            raise Http404("There are not two done runs to compare yet.")
        try:
            explanation = run_change_explain(recipient=recipient, run_a=pair[0], run_b=pair[1])
        except DistributionRun.DoesNotExist:
            raise Http404("Both runs must exist and be done.") from None
        except ChangeTooLarge as exc:
            return Response({"detail": str(exc)}, status=422)
        return Response(explanation.as_dict())
