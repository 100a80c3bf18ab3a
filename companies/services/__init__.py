"""Operations on companies: onboarding, members, agreements and their events, money in.

Every function is keyword-only and transactional; it raises ``ValidationError({field: msg})``
for bad input or a broken rule and ``PermissionDenied`` for a caller who may not act, and on
either nothing is stored. Amounts are integer minor units with a lower-case currency.

Who may act (see README, "Companies and agreements"):

- owners manage the company and its members; owners and finance members act on money
  (create, sign and end agreements, record declarations and events, pay invoices); viewers
  read. When the company requires MFA, acting on money needs two-factor authentication on
  the member's account.
- FairOSS staff countersign, mark milestones met, record wires, and may record a company's
  declarations and events.

One concept per module; callers use this package (``services.agreement_sign(...)``):

- ``companies``: companies, their details, invitations and members;
- ``agreement_terms``: cleaning the terms of a new agreement (the arithmetic is
  ``companies.terms``);
- ``agreements``: drafts, the document, signing, countersigning, ending;
- ``vesting``: equity milestones and the vested part of a stake;
- ``billing``: money due: invoices for declarations, liquidity events, carry, pledge periods;
- ``payments``: money in: invoices paid by Stripe Checkout or wire, voided invoices, Stripe
  payment events;
- ``_common``: the cleaning and permission checks they share.

Modules depend one way: ``agreements`` → ``billing`` → ``vesting`` → ``_common``.
"""

from ._common import require_money_actor
from .agreement_terms import agreement_terms_clean
from .agreements import (
    agreement_countersign,
    agreement_create,
    agreement_document_html,
    agreement_end,
    agreement_sign,
)
from .billing import (
    carry_distribution_record,
    dividend_declare,
    liquidity_event_record,
    pledge_invoices_issue,
)
from .companies import (
    company_create,
    company_invitation_answer,
    company_invitation_revoke,
    company_invitations_attach_email,
    company_invite,
    company_member_set,
    company_update,
    company_values_clean,
)
from .payments import (
    invoice_checkout_confirm,
    invoice_checkout_start,
    invoice_void,
    invoice_wire_received,
    stripe_payment_event_handle,
)
from .vesting import equity_vested_millibips, milestone_mark_met

__all__ = [
    "agreement_countersign",
    "agreement_create",
    "agreement_document_html",
    "agreement_end",
    "agreement_sign",
    "agreement_terms_clean",
    "carry_distribution_record",
    "company_create",
    "company_invitation_answer",
    "company_invitation_revoke",
    "company_invitations_attach_email",
    "company_invite",
    "company_member_set",
    "company_update",
    "company_values_clean",
    "dividend_declare",
    "equity_vested_millibips",
    "invoice_checkout_confirm",
    "invoice_checkout_start",
    "invoice_void",
    "invoice_wire_received",
    "liquidity_event_record",
    "milestone_mark_met",
    "pledge_invoices_issue",
    "require_money_actor",
    "stripe_payment_event_handle",
]
