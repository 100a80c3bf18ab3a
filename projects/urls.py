from django.urls import path

from . import table_views, verification_views, views
from .webhooks import views as webhook_views

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", views.project_new, name="new"),
    path("new/<str:step>/", views.project_new, name="new_step"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("search.json", table_views.project_search, name="search"),
    # Webhooks of a project or a company (issue 12): before "<slug>/…", three segments deep.
    path("webhooks/<str:kind>/<str:slug>/", webhook_views.webhooks_page, name="webhooks"),
    path(
        "webhooks/<str:kind>/<str:slug>/<int:pk>/",
        webhook_views.webhook_endpoint_page,
        name="webhook_endpoint",
    ),
    path(
        "webhooks/<str:kind>/<str:slug>/<int:pk>/action/",
        webhook_views.webhook_endpoint_action,
        name="webhook_endpoint_action",
    ),
    path(
        "webhooks/<str:kind>/<str:slug>/deliveries/<int:pk>/",
        webhook_views.webhook_delivery_page,
        name="webhook_delivery",
    ),
    path(
        "webhooks/<str:kind>/<str:slug>/deliveries/<int:pk>/replay/",
        webhook_views.webhook_delivery_replay,
        name="webhook_delivery_replay",
    ),
    path("<str:slug>/", views.project_detail, name="detail"),
    path("<str:slug>/edit/", views.project_edit, name="edit"),
    path("<str:slug>/verify/", verification_views.project_verification, name="verify"),
    path(
        "<str:slug>/verify/check/",
        verification_views.project_verification_check,
        name="verify_check",
    ),
    path("<str:slug>/invite/", views.project_invite, name="invite"),
    path("<str:slug>/members/<str:username>/remove/", views.member_remove, name="member_remove"),
    path(
        "<str:slug>/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("<str:slug>/table/edit/", table_views.table_edit, name="table_edit"),
    path("<str:slug>/table/import/", table_views.table_import, name="table_import"),
    path("<str:slug>/table/history/", table_views.table_history, name="table_history"),
    path("<str:slug>/table/quorum/", table_views.table_quorum, name="table_quorum"),
    path("<str:slug>/table/v<int:number>/", table_views.table_version, name="table_version"),
    path(
        "<str:slug>/table/v<int:number>/action/",
        table_views.table_version_action,
        name="table_version_action",
    ),
    path("<str:slug>/faiross.toml", table_views.table_toml, name="table_toml"),
]
