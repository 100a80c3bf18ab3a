"""Signal receivers stay thin: they call services."""

from allauth.account.signals import email_confirmed
from django.dispatch import receiver

from . import services


@receiver(email_confirmed)
def _attach_company_invitations(sender, request, email_address, **kwargs):  # type: ignore[no-untyped-def]
    services.company_invitations_attach_email(user=email_address.user, email=email_address.email)
