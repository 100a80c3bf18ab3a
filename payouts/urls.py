from django.urls import path

from . import views

app_name = "payouts"

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
]
