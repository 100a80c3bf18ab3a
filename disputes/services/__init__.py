"""Operations of the ombudsman office (one function per use case).

Every function is keyword-only and runs in one database transaction: it either does all it
says, records it with :func:`audit_record` and queues its emails (sent after commit), or
raises ``ValidationError({field: message})`` / ``PermissionDenied`` having changed nothing.

Rules every acting function keeps:

- only active staff with the ``disputes.act_as_ombudsman`` permission act, and never on a
  dispute they filed or are a party to;
- after a resolution only an appeal reopens the dispute, and the appeal is decided by an
  ombudsman other than the one who resolved it;
- a hold never exceeds the recipient's balance in its source account, nor the money at stake;
- releases and redirects are balanced ledger transactions: no cent is created or lost, and
  the recipient's ``held`` balance always covers what its active holds still hold.

One concept per module: :mod:`.audit` (the trail), :mod:`.evidence`, :mod:`.filing` (filing
and the conversation), :mod:`.cases` (notes, assignment, deadline, stake), :mod:`.holds`,
:mod:`.corrections` (share tables and stewards), :mod:`.appeals` (resolution and appeal);
:mod:`._common` holds their private helpers. Import from this package.
"""

from __future__ import annotations

from ._common import MAX_REASON, MAX_TEXT
from .appeals import appeal_deadline, appeal_decide, appeal_file, dispute_resolve
from .audit import audit_record
from .cases import dispute_assign, dispute_deadline_set, dispute_note_add, dispute_stake_set
from .corrections import entries_parse, project_stewards_set, table_correct
from .evidence import FILE_TYPES, CheckedFile, evidence_check_files, evidence_check_links
from .filing import dispute_file, dispute_respond
from .holds import HOLD_SOURCES, default_source, hold_place, hold_redirect, hold_release

__all__ = [
    "FILE_TYPES",
    "HOLD_SOURCES",
    "MAX_REASON",
    "MAX_TEXT",
    "CheckedFile",
    "appeal_deadline",
    "appeal_decide",
    "appeal_file",
    "audit_record",
    "default_source",
    "dispute_assign",
    "dispute_deadline_set",
    "dispute_file",
    "dispute_note_add",
    "dispute_resolve",
    "dispute_respond",
    "dispute_stake_set",
    "entries_parse",
    "evidence_check_files",
    "evidence_check_links",
    "hold_place",
    "hold_redirect",
    "hold_release",
    "project_stewards_set",
    "table_correct",
]
