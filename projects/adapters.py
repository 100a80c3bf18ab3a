"""allauth's account adapter, fitted to FairOSS: mails name the site from settings (not the
``django.contrib.sites`` row, which says "example.com" unless someone edits it in the admin),
and rate limits count the client address by FairOSS's trusted-proxy rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from faiross.kernel.http import client_ip


@dataclass(frozen=True)
class SiteIdentity:
    """What mails call the site: ``name`` (``FAIROSS_SITE_NAME``) and ``domain`` (the host of
    ``FAIROSS_SITE_URL``), the two attributes allauth's templates read of a Site."""

    name: str
    domain: str


def site_identity() -> SiteIdentity:
    """The site's name and domain from settings."""
    domain = urlsplit(settings.SITE_URL).netloc or settings.SITE_URL
    return SiteIdentity(name=settings.FAIROSS_SITE_NAME, domain=domain)


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # allauth puts the sites framework's row in the context; FairOSS's name comes from
        # settings, so no deployment mails "Hello from example.com!".
        super().send_mail(template_prefix, email, {**context, "current_site": site_identity()})

    def get_client_ip(self, request: HttpRequest) -> str:
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine the client's address.")
        return ip
