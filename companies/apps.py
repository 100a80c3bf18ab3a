from django.apps import AppConfig

from payouts.owners import owner_lookups
from payouts.webhook_handlers import PAYMENT_EVENT_PREFIXES, stripe_event_handlers
from projects.explore import explore_funders
from projects.tables_registry import table_owner_policies


class CompaniesConfig(AppConfig):
    name = "companies"
    verbose_name = "Companies and agreements"

    def ready(self) -> None:
        from payouts.distribution.trace import trace_viewers
        from projects.notifications import approvable_owners, table_approvers

        from . import notifications, receivers  # noqa: F401
        from .selectors import company_exists, company_role, company_table_roles, listed_companies
        from .services import stripe_payment_event_handle

        for prefix in PAYMENT_EVENT_PREFIXES:
            stripe_event_handlers.register(prefix, stripe_payment_event_handle)
        table_owner_policies.register("company", company_table_roles)
        owner_lookups.register("company", company_exists)
        trace_viewers.register(
            "company", lambda *, slug, user: company_role(slug=slug, user=user) is not None
        )
        table_approvers.register("company", notifications.company_table_approvers)
        approvable_owners.register("company", notifications.company_tables_approved_by)
        explore_funders.set(listed_companies)
