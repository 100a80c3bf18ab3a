"""API v1 routes of the money path, mounted at /api/v1/."""

from django.urls import path

from . import api

urlpatterns = [
    path("distributions/", api.DistributionsView.as_view(), name="api-distributions"),
    path("distributions/<int:pk>/", api.DistributionDetailView.as_view(), name="api-distribution"),
    path("payout-runs/", api.PayoutRunsView.as_view(), name="api-payout-runs"),
    path("payout-runs/<int:pk>/", api.PayoutRunDetailView.as_view(), name="api-payout-run"),
    path("balances/<path:recipient>/", api.BalancesView.as_view(), name="api-balances"),
]
