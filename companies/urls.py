from django.urls import path

from . import agreement_views as av
from . import impact_views, views

app_name = "companies"

# Prefixes: G the public Groundwater pages, P a project's there; C a company, A one of its
# agreements, T its table, INV one of its invoices.
G = "groundwater/"
P = G + "projects/<str:slug>/"
C = "<str:slug>/"
A = C + "agreements/<int:pk>/"
T = C + "table/"
INV = C + "invoices/<int:pk>/"

urlpatterns = [
    path("", views.company_list, name="list"),
    path("new/", views.company_new, name="new"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path(G, views.groundwater, name="groundwater"),
    path(P, views.groundwater_project, name="project_public"),
    path(P + "badge.svg", views.project_badge, name="project_badge"),
    path(G + "<str:slug>/", views.groundwater_company, name="public"),
    path(G + "<str:slug>/badge.svg", views.company_badge, name="badge"),
    path(C, views.dashboard, name="dashboard"),
    path(C + "export.csv", views.export_csv, name="export_csv"),
    path(C + "impact/", impact_views.impact_page, name="impact"),
    path(C + "impact/<int:year>.pdf", impact_views.impact_pdf, name="impact_pdf"),
    path(C + "impact/pledge.json", impact_views.impact_pledge_json, name="impact_pledge"),
    path(C + "settings/", views.company_settings, name="settings"),
    path(C + "invite/", views.company_invite, name="invite"),
    path(C + "members/<str:username>/", views.member_change, name="member_change"),
    path(C + "invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path(T + "edit/", views.table_edit, name="table_edit"),
    path(T + "import/", views.table_import, name="table_import"),
    path(T + "history/", views.table_history, name="table_history"),
    path(T + "v<int:number>/action/", views.table_version_action, name="table_version_action"),
    path(C + "agreements/new/<str:kind>/", av.agreement_new, name="agreement_new"),
    path(A, av.agreement_detail, name="agreement"),
    path(A + "sign/", av.agreement_sign, name="agreement_sign"),
    path(A + "end/", av.agreement_end, name="agreement_end"),
    path(A + "record/", av.agreement_event, name="agreement_event"),
    path(A + "document/", av.agreement_document, name="agreement_document"),
    path(A + "document.pdf", av.agreement_pdf, name="agreement_pdf"),
    path(A + "ocf.json", av.agreement_ocf, name="agreement_ocf"),
    path(INV + "pay/", av.invoice_pay, name="invoice_pay"),
    path(INV + "paid/", av.invoice_paid, name="invoice_paid"),
]
