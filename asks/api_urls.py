"""API v1 routes of company asks, mounted at /api/v1/."""

from django.urls import path

from . import api

R = "requests/<int:pk>/"
K = "contact-requests/<int:pk>/"

urlpatterns = [
    path("companies/<str:slug>/requests/", api.CompanyRequestsView.as_view()),
    path("companies/<str:slug>/milestones/", api.CompanyMilestonesView.as_view()),
    path("projects/<str:slug>/requests/", api.ProjectRequestsView.as_view()),
    path(R, api.RequestDetailView.as_view()),
    path(R + "accept/", api.RequestAcceptView.as_view()),
    path(R + "decline/", api.RequestDeclineView.as_view()),
    path(R + "propose-changes/", api.RequestProposeView.as_view()),
    path(R + "revise/", api.RequestReviseView.as_view()),
    path(R + "start/", api.RequestStartView.as_view()),
    path(R + "deliver/", api.RequestDeliverView.as_view()),
    path(R + "confirm/", api.RequestConfirmView.as_view()),
    path(R + "reject/", api.RequestRejectView.as_view()),
    path(R + "withdraw/", api.RequestWithdrawView.as_view()),
    path("contributor-profile/", api.ContributorProfileView.as_view()),
    path("contributors/", api.ContributorsView.as_view()),
    path("contact-requests/", api.ContactRequestsView.as_view()),
    path(K + "accept/", api.ContactAcceptView.as_view()),
    path(K + "decline/", api.ContactDeclineView.as_view()),
    path(K + "report/", api.ContactReportView.as_view()),
]
