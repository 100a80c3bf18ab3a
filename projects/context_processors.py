from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    return {
        "stripe_test_mode": not settings.STRIPE_SECRET_KEY.startswith("sk_live_"),
        "site_url": settings.SITE_URL,
    }
