from django.urls import path

from . import views

app_name = "disputes"

urlpatterns = [
    path("", views.dispute_list, name="list"),
    path("new/", views.dispute_new, name="new"),
    path("<int:pk>/", views.dispute_detail, name="detail"),
    path("<int:pk>/respond/", views.dispute_respond, name="respond"),
    path("<int:pk>/appeal/", views.dispute_appeal, name="appeal"),
    path("evidence/<int:pk>/", views.evidence_file, name="evidence"),
]
