"""Operations of company asks. Keyword-only and transactional; ``ValidationError({field:
msg})`` for bad input or a broken rule, ``PermissionDenied`` for a caller who may not act; on
either nothing is stored.

- ``requests``: feature requests and their steps (milestones met on confirmation);
- ``bounties``: the bounty's money in the ledger (held, paid into the project's flow,
  released);
- ``contacts``: contributor profiles and contact requests.
"""

from .bounties import bounties_hold, bounty_pay, bounty_release
from .contacts import (
    contact_report_handle,
    contact_request_answer,
    contact_request_report,
    contact_request_send,
    contributor_profile_update,
)
from .requests import (
    STAFF_OUTCOMES,
    feature_request_accept,
    feature_request_awaits_staff,
    feature_request_confirm,
    feature_request_decline,
    feature_request_deliver,
    feature_request_file,
    feature_request_propose_changes,
    feature_request_reject,
    feature_request_revise,
    feature_request_staff_decide,
    feature_request_start,
    feature_request_withdraw,
)

__all__ = [
    "STAFF_OUTCOMES",
    "bounties_hold",
    "bounty_pay",
    "bounty_release",
    "contact_report_handle",
    "contact_request_answer",
    "contact_request_report",
    "contact_request_send",
    "contributor_profile_update",
    "feature_request_accept",
    "feature_request_awaits_staff",
    "feature_request_confirm",
    "feature_request_decline",
    "feature_request_deliver",
    "feature_request_file",
    "feature_request_propose_changes",
    "feature_request_reject",
    "feature_request_revise",
    "feature_request_staff_decide",
    "feature_request_start",
    "feature_request_withdraw",
]
