from django.urls import path

from . import views

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", views.project_new, name="new"),
    path("new/<str:step>/", views.project_new, name="new_step"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("<str:slug>/", views.project_detail, name="detail"),
    path("<str:slug>/edit/", views.project_edit, name="edit"),
    path("<str:slug>/invite/", views.project_invite, name="invite"),
    path("<str:slug>/members/<str:username>/remove/", views.member_remove, name="member_remove"),
    path(
        "<str:slug>/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
]
