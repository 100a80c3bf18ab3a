"""API v1 routes of the market, mounted at /api/v1/ (the engine's orders and trades too)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from . import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("market/tickers/", api.TickersView.as_view()),
    path("market/tickers/<str:symbol>/", api.TickerDetailView.as_view()),
    path("market/offerings/", api.OfferingsView.as_view()),
    path("market/offerings/<int:pk>/", api.OfferingDetailView.as_view()),
    path("market/offerings/<int:pk>/commit/", api.OfferingCommitView.as_view()),
    path("market/commitments/", api.CommitmentsView.as_view()),
    path("market/commitments/<int:pk>/cancel/", api.CommitmentCancelView.as_view()),
    path("market/commitments/<int:pk>/reconfirm/", api.CommitmentReconfirmView.as_view()),
    path("market/holdings/", api.HoldingsView.as_view()),
    path("market/cash/", api.CashView.as_view()),
]

try:  # the secondary market's routes (market/engine), once they exist
    from .orders_api import urlpatterns as engine_urls  # type: ignore[import-not-found,unused-ignore]

    urlpatterns.append(path("", include(engine_urls)))
except ImportError:  # pragma: no cover - before the engine's API is written
    pass
