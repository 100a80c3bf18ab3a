from django.urls import path

from . import views

app_name = "payouts"

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
]
