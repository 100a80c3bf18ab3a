"""API v1 routes of the money path, mounted at /api/v1/."""

from django.urls import path

from . import api, changes_api, open_data_api
from .trace_api import TraceView

urlpatterns = [
    path("distributions/", api.DistributionsView.as_view(), name="api-distributions"),
    path("distributions/<int:pk>/", api.DistributionDetailView.as_view(), name="api-distribution"),
    path(
        "distributions/<int:pk>/public/",
        open_data_api.RunPublicView.as_view(),
        name="api-distribution-public",
    ),
    path(
        "distributions/<int:pk>/flows.json",
        open_data_api.RunFlowsJsonView.as_view(),
        name="api-distribution-flows-json",
    ),
    path(
        "distributions/<int:pk>/flows.csv",
        open_data_api.RunFlowsCsvView.as_view(),
        name="api-distribution-flows-csv",
    ),
    path(
        "distributions/<int:pk>/proof/",
        open_data_api.RunProofView.as_view(),
        name="api-distribution-proof",
    ),
    path("changes/", changes_api.ChangesView.as_view(), name="api-changes"),
    path("trace/", TraceView.as_view(), name="api-trace"),
    path("payout-runs/", api.PayoutRunsView.as_view(), name="api-payout-runs"),
    path("payout-runs/<int:pk>/", api.PayoutRunDetailView.as_view(), name="api-payout-run"),
    path("balances/<path:recipient>/", api.BalancesView.as_view(), name="api-balances"),
]
