from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.routers import DefaultRouter

from companies import badge_views, forecast_views
from projects import account_views, notification_views, privacy_views, table_api
from projects import views as project_views
from projects.account_api import ApiTokenView
from projects.api import ProjectViewSet

# Admin sign-in goes through allauth, so email verification and MFA apply to staff too.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "FairOSS ombudsman office"
admin.site.site_title = "FairOSS admin"

router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", ApiTokenView.as_view(), name="api-token"),
    path("projects/<str:slug>/table/", table_api.TableView.as_view()),
    path("projects/<str:slug>/table/versions/", table_api.TableVersionsView.as_view()),
    path(
        "projects/<str:slug>/table/versions/<int:number>/",
        table_api.TableVersionDetailView.as_view(),
    ),
    path(
        "projects/<str:slug>/table/versions/<int:number>/approve/",
        table_api.TableVersionApproveView.as_view(),
    ),
    path("projects/<str:slug>/table/import/", table_api.TableImportView.as_view()),
    path("projects/<str:slug>/faiross.toml", table_api.TableTomlView.as_view()),
    path("", include(router.urls)),
    path("", include("companies.api_urls")),
    path("", include("payouts.api_urls")),
    path("", include("disputes.api_urls")),
    path("", include("asks.api_urls")),
    path("", include("market.api_urls")),
]

urlpatterns = [
    path("", project_views.home, name="home"),
    path("dashboard/", project_views.dashboard, name="dashboard"),
    path("settings/", account_views.user_settings, name="settings"),
    path("settings/privacy/", privacy_views.privacy_settings, name="privacy"),
    path(
        "settings/notifications/",
        notification_views.notification_settings_page,
        name="notifications",
    ),
    path("people/<str:username>/", privacy_views.public_profile, name="profile"),
    path("forecast/", forecast_views.forecast_page, name="forecast"),
    path("badge/project/<str:slug>.svg", badge_views.project_badge, name="badge_project"),
    path("badge/company/<str:slug>.svg", badge_views.company_badge, name="badge_company"),
    path("projects/", include("projects.urls")),
    path("companies/", include("companies.urls")),
    path("payouts/", include("payouts.urls")),
    path("disputes/", include("disputes.urls")),
    path("asks/", include("asks.urls")),
    path("market/", include("market.urls")),
    # Before allauth's own: without a configured GitHub app these answer a 404 page, not 500.
    path("accounts/github/login/", account_views.github_login),
    path("accounts/github/login/callback/", account_views.github_callback),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    # Django's set_language: the footer's language choice, kept in the language cookie that
    # LocaleMiddleware reads (how numbers and money are typed and shown).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

# allauth's rate limits answer with this (429 with Retry-After).
handler429 = account_views.too_many_requests
