from django.urls import path

from . import changes_views, reserve_views, tax_views, views
from .trace_views import run_trace_page

app_name = "payouts"

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/trace/", run_trace_page, name="trace"),
    path("changes/", changes_views.changes_page, name="changes"),
    path("get-paid/", views.get_paid, name="get_paid"),
    path("get-paid/connect/", views.connect_start, name="connect_start"),
    path("get-paid/return/", views.connect_return, name="connect_return"),
    path("get-paid/refresh/", views.connect_refresh, name="connect_refresh"),
    path("claim/", views.claim, name="claim"),
    path("tax-form/", tax_views.tax_form, name="tax_form"),
    path("tax-form/<int:pk>/document/", tax_views.tax_form_document, name="tax_form_document"),
    path("statements/<int:year>.<str:fmt>", views.statement, name="statement"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("reserve/<slug:slug>/", reserve_views.reserve_page, name="reserve"),
    path(
        "reserve/<slug:slug>/<int:pk>/<str:action>/",
        reserve_views.reserve_grant_action,
        name="reserve_grant",
    ),
]
