"""API v1 routes of this app, mounted at /api/v1/."""

from django.urls import path

from . import api, forecast_api

C = "companies/<str:slug>/"
A = C + "agreements/<int:pk>/"

urlpatterns = [
    path("inflows/", api.InflowsView.as_view(), name="api-inflows"),
    path("forecast/", forecast_api.ForecastView.as_view(), name="api-forecast"),
    path("companies/", api.CompanyListView.as_view()),
    path(C, api.CompanyDetailView.as_view()),
    path(C + "invitations/", api.CompanyInvitationsView.as_view()),
    path(C + "table/", api.CompanyTableView.as_view()),
    path(C + "table/versions/", api.CompanyTableVersionsView.as_view()),
    path(C + "table/versions/<int:number>/", api.CompanyTableVersionDetailView.as_view()),
    path(C + "table/versions/<int:number>/approve/", api.CompanyTableVersionApproveView.as_view()),
    path(C + "table/import/", api.CompanyTableImportView.as_view()),
    path(C + "faiross.toml", api.CompanyTableTomlView.as_view()),
    path(C + "preview/", api.PreviewView.as_view()),
    path(C + "agreements/", api.AgreementListView.as_view()),
    path(A, api.AgreementDetailView.as_view()),
    path(A + "sign/", api.AgreementSignView.as_view()),
    path(A + "countersign/", api.AgreementCountersignView.as_view()),
    path(A + "end/", api.AgreementEndView.as_view()),
    path(A + "milestones/<int:milestone>/met/", api.MilestoneMetView.as_view()),
    path(A + "declarations/", api.DeclarationsView.as_view()),
    path(A + "liquidity-events/", api.LiquidityEventsView.as_view()),
    path(A + "carry-distributions/", api.CarryDistributionsView.as_view()),
    path(A + "ocf/", api.AgreementOcfView.as_view()),
    path(C + "invoices/", api.InvoiceListView.as_view()),
    path(C + "invoices/<int:pk>/checkout/", api.InvoiceCheckoutView.as_view()),
    path(C + "invoices/<int:pk>/confirm/", api.InvoiceConfirmView.as_view()),
    path(C + "invoices/<int:pk>/wire/", api.InvoiceWireView.as_view()),
]
