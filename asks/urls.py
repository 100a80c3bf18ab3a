"""Pages of company asks, mounted at /asks/."""

from django.urls import path

from . import views

app_name = "asks"

urlpatterns = [
    path("companies/<str:slug>/", views.company_asks, name="company"),
    path("companies/<str:slug>/new/", views.request_new, name="request_new"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/<str:action>/", views.request_action, name="request_action"),
    path("projects/<str:slug>/", views.project_asks, name="project"),
    path("contributor/", views.contributor, name="contributor"),
    path(
        "contributor/contacts/<int:pk>/<str:action>/", views.contact_action, name="contact_action"
    ),
    path("contributors/", views.contributors, name="contributors"),
]
