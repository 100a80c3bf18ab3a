from django.urls import path

from . import views

app_name = "market"

urlpatterns = [
    path("", views.market_home, name="home"),
    path("me/", views.investor_dashboard, name="dashboard"),
    path("me/statements/<int:year>.<str:fmt>", views.statement, name="statement"),
    path("list/<str:slug>/", views.listing_new, name="listing_new"),
    path("offerings/<int:pk>/", views.offering_page, name="offering"),
    path("offerings/<int:pk>/<str:action>/", views.offering_action, name="offering_action"),
    path("commitments/<int:pk>/<str:action>/", views.commitment_action, name="commitment_action"),
    path("<str:symbol>/", views.ticker_page, name="ticker"),
    path("<str:symbol>/cap/", views.ticker_cap, name="ticker_cap"),
    path("<str:symbol>/offer/", views.offering_new, name="offering_new"),
]
