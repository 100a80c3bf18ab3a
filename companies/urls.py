from django.urls import path

from . import agreement_views as av
from . import views

app_name = "companies"

urlpatterns = [
    path("", views.company_list, name="list"),
    path("new/", views.company_new, name="new"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("groundwater/", views.groundwater, name="groundwater"),
    path(
        "groundwater/projects/<str:slug>/",
        views.groundwater_project,
        name="project_public",
    ),
    path(
        "groundwater/projects/<str:slug>/badge.svg",
        views.project_badge,
        name="project_badge",
    ),
    path("groundwater/<str:slug>/", views.groundwater_company, name="public"),
    path("groundwater/<str:slug>/badge.svg", views.company_badge, name="badge"),
    path("<str:slug>/", views.dashboard, name="dashboard"),
    path("<str:slug>/export.csv", views.export_csv, name="export_csv"),
    path("<str:slug>/settings/", views.company_settings, name="settings"),
    path("<str:slug>/invite/", views.company_invite, name="invite"),
    path("<str:slug>/members/<str:username>/", views.member_change, name="member_change"),
    path(
        "<str:slug>/invitations/<int:pk>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("<str:slug>/table/edit/", views.table_edit, name="table_edit"),
    path("<str:slug>/table/import/", views.table_import, name="table_import"),
    path("<str:slug>/table/history/", views.table_history, name="table_history"),
    path(
        "<str:slug>/table/v<int:number>/action/",
        views.table_version_action,
        name="table_version_action",
    ),
    path("<str:slug>/agreements/new/<str:kind>/", av.agreement_new, name="agreement_new"),
    path("<str:slug>/agreements/<int:pk>/", av.agreement_detail, name="agreement"),
    path("<str:slug>/agreements/<int:pk>/sign/", av.agreement_sign, name="agreement_sign"),
    path("<str:slug>/agreements/<int:pk>/end/", av.agreement_end, name="agreement_end"),
    path("<str:slug>/agreements/<int:pk>/record/", av.agreement_event, name="agreement_event"),
    path(
        "<str:slug>/agreements/<int:pk>/document/",
        av.agreement_document,
        name="agreement_document",
    ),
    path("<str:slug>/agreements/<int:pk>/document.pdf", av.agreement_pdf, name="agreement_pdf"),
    path("<str:slug>/agreements/<int:pk>/ocf.json", av.agreement_ocf, name="agreement_ocf"),
    path("<str:slug>/invoices/<int:pk>/pay/", av.invoice_pay, name="invoice_pay"),
    path("<str:slug>/invoices/<int:pk>/paid/", av.invoice_paid, name="invoice_paid"),
]
