from django.apps import AppConfig

from payouts.owners import owner_lookups
from payouts.webhook_handlers import PAYMENT_EVENT_PREFIXES, stripe_event_handlers
from projects.tables_registry import table_owner_policies


class CompaniesConfig(AppConfig):
    name = "companies"
    verbose_name = "Companies and agreements"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
        from .selectors import company_exists, company_table_roles
        from .services import stripe_payment_event_handle

        for prefix in PAYMENT_EVENT_PREFIXES:
            stripe_event_handlers.register(prefix, stripe_payment_event_handle)
        table_owner_policies.register("company", company_table_roles)
        owner_lookups.register("company", company_exists)
