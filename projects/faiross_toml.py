"""``faiross.toml``: a share table as a human-editable, versioned file in a repository.

The format is documented for users in ``docs/faiross-toml.md``; this module is its only
reader and writer. Both are pure functions (no Django, no database) so the web upload,
the API and any script agree on what a valid file is.

Format 1, in short::

    format = 1
    owner = "project:numpy"          # optional on import
    version = 3                      # optional, informational
    reserve_millibips = 6_000_000    # optional, informational: must equal the remainder

    [[entry]]
    recipient = "project:python"
    millibips = 4_000_000            # 40%
    note = "the language we stand on" # optional

10,000,000 millibips are 100%. What the entries do not give away is the reserve, kept by
the owner.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from faiross.kernel.recipients import (
    RecipientError,
    canonical_recipient,
    is_masked_email,
    parse_recipient,
)
from faiross.kernel.shares import FULL_SHARE
from faiross.kernel.shares import format_percent as _format_percent

FORMAT_VERSION = 1
MAX_ENTRIES = 500
# A table entry keeps a note of at most 200 characters (projects.models.TableEntry.note), so
# the file allows no longer one: every note read is kept on import.
MAX_NOTE_LENGTH = 200
# 500 entries with long notes stay far below this; anything bigger is not a share table.
MAX_TEXT_CHARS = 1_000_000

# ``verification`` holds the ownership token a steward commits (projects/verification/); the
# table reader accepts it and ignores it.
TOP_LEVEL_KEYS = ("format", "owner", "version", "reserve_millibips", "entry", "verification")
ENTRY_KEYS = ("recipient", "millibips", "note")
OWNER_KINDS = ("project", "company")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")


class TableFileError(Exception):
    """A faiross.toml that cannot be accepted.

    ``errors`` lists every problem found as ``(location, message)``: the location is
    ``"line 7"`` for syntax errors, a top-level key (``"format"``, ``"owner"``, ...),
    ``"entry 3"`` (1-based, in file order) or ``"entries"`` for the table as a whole;
    the message says what is wrong and how to fix it.
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{where}: {message}" for where, message in self.errors))


@dataclass(frozen=True)
class ParsedTable:
    """A faiross.toml that passed every format-level check.

    Invariants: ``entries`` are ``(recipient, millibips)`` in file order, at most
    :data:`MAX_ENTRIES`, each recipient valid (:func:`~faiross.kernel.recipients.parse_recipient`)
    and written exactly as in the file, no two the same after canonicalisation, none equal
    to ``owner``, each millibips a positive int, their sum at most
    :data:`FULL_SHARE`. ``notes`` maps a recipient to its optional note.
    Whether ``owner`` matches the table being imported, and whether named projects and
    users exist, is for the caller to check.
    """

    owner: str | None
    version: int | None
    entries: list[tuple[str, int]]
    notes: dict[str, str] = field(default_factory=dict)


def parse_owner(value: object) -> str:
    """Validate an owner: ``project:<slug>`` or ``company:<slug>``. Raises ``ValueError``."""
    if not isinstance(value, str):
        raise ValueError('owner must be a string like "project:numpy"')
    kind, colon, slug = value.partition(":")
    if not colon or kind not in OWNER_KINDS:
        raise ValueError(f"owner {value[:80]!r} must be 'project:<slug>' or 'company:<slug>'")
    if not _SLUG.fullmatch(slug):
        raise ValueError(
            f"owner {value[:80]!r}: '{slug[:60]}' is not a slug (1-50 lower-case letters, "
            "digits and hyphens, starting with a letter or digit)"
        )
    return value


def format_percent(millibips: int) -> str:
    """Exact percentage of ``millibips`` as text: 4_000_000 -> "40%", 1 -> "0.00001%".

    The file's comments and messages are English whatever the reader's language, so that the
    same table always gives the same bytes: the kernel's formatter in the ``en`` locale
    (``-``, ``,`` between thousands, ``.`` before the decimals, no space before ``%``)."""
    return _format_percent(millibips=millibips, locale="en")


def _format_int(value: int) -> str:
    """TOML integer with ``_`` thousands separators, which TOML allows and humans read."""
    return f"{value:_d}"


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (double quotes, escapes where TOML requires them).

    Precondition: ``value`` holds no lone surrogates (they are not Unicode scalar values
    and TOML cannot represent them; ``ValueError`` otherwise).
    Invariant: ``tomllib.loads(f"k = {toml_string(v)}")["k"] == v``.
    """
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError("text contains a lone surrogate, which TOML cannot hold")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _comment_lines(text: str) -> list[str]:
    """``text`` as TOML comment lines; controls TOML forbids in comments become "?"."""
    lines = []
    for line in text.splitlines() or [""]:
        clean = "".join(
            "?" if unicodedata.category(ch) in ("Cc", "Cs") and ch != "\t" else ch for ch in line
        )
        lines.append(f"# {clean}".rstrip() if clean.strip() else "#")
    return lines


def _check_entries(
    *,
    owner: str | None,
    entries: Sequence[tuple[int, object, object]],
) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    """Semantic checks shared by reader and writer.

    ``entries`` are ``(1-based position, recipient, millibips)`` whose types may still be
    wrong. Returns the errors and the entries that passed.
    """
    errors: list[tuple[str, str]] = []
    accepted: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    owner_key = None
    if owner is not None:
        owner_key = owner  # owners are project:/company: slugs, already canonical
    total = 0
    for position, recipient, millibips in entries:
        where = f"entry {position}"
        ok = True
        if not isinstance(recipient, str):
            errors.append((where, "'recipient' must be a string like \"project:numpy\""))
            ok = False
        else:
            try:
                kind, identifier = parse_recipient(recipient)
                key = canonical_recipient(recipient)
            except RecipientError as exc:
                errors.append((where, f"recipient: {exc.message}"))
                ok = False
            else:
                if kind == "email" and is_masked_email(identifier):
                    # A public export hides addresses; taking the mask as an address would
                    # send the money to nobody.
                    errors.append(
                        (
                            where,
                            f"recipient: {recipient} is a hidden address (public pages and "
                            "exports mask email addresses); write the full address",
                        )
                    )
                    ok = False
                elif key == owner_key:
                    errors.append(
                        (
                            where,
                            f"the owner {owner} cannot be an entry of its own table; what the "
                            "entries do not give away already stays with it (the reserve)",
                        )
                    )
                    ok = False
                elif key in seen:
                    errors.append(
                        (
                            where,
                            f"recipient {recipient} is already in entry {seen[key]}; "
                            "merge the two entries",
                        )
                    )
                    ok = False
                else:
                    seen[key] = position
        problem = _millibips_problem(millibips)
        if problem is not None:
            errors.append((where, f"millibips {problem}"))
            ok = False
        else:
            assert isinstance(millibips, int)
            total += millibips
        if ok:
            assert isinstance(recipient, str) and isinstance(millibips, int)
            accepted.append((recipient, millibips))
    if total > FULL_SHARE:
        errors.append(
            (
                "entries",
                f"the entries add up to {total:,} millibips ({format_percent(total)}), more "
                f"than {FULL_SHARE:,} (100%); lower some of them",
            )
        )
    return errors, accepted


def _millibips_problem(value: object) -> str | None:
    if value is None:
        return "is missing: add e.g. 'millibips = 100_000' (1%)"
    if isinstance(value, bool):
        return f"must be a whole number, not {str(value).lower()}"
    if isinstance(value, float):
        return (
            f"must be a whole number (an integer), not {value!r}; 1% is 100_000 millibips, "
            "0.5% is 50_000"
        )
    if isinstance(value, str):
        return f"must be a number without quotes, not the string {value[:40]!r}"
    if not isinstance(value, int):
        return "must be a whole number (an integer)"
    if value <= 0:
        return f"must be positive, not {value:,}; remove the entry instead of giving it 0"
    if value > FULL_SHARE:
        return f"is {value:,}; at most {FULL_SHARE:,} (100%)"
    return None


def _error_order(error: tuple[str, str]) -> tuple[int, int]:
    """Top-level keys first, then entries in file order, then the table as a whole."""
    where = error[0]
    if where.startswith("entry ") and where[6:].isdigit():
        return (1, int(where[6:]))
    return (2, 0) if where == "entries" else (0, 0)


def _unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    guess = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean '{guess[0]}'?" if guess else ""
    return f"unknown key '{key[:60]}'{hint} (allowed: {', '.join(allowed)})"


def table_to_toml(
    *,
    owner: str,
    version: int | None,
    entries: list[tuple[str, int]],
    comment: str | None = None,
    notes: Mapping[str, str] | None = None,
    display: Callable[[str], str] | None = None,
) -> str:
    """Write a share table as a faiross.toml text (format 1).

    Preconditions: ``owner`` is ``project:<slug>`` or ``company:<slug>``; ``version`` is
    ``None`` or an int >= 1; ``entries`` satisfy :class:`ParsedTable`'s invariants;
    ``notes`` (optional) maps recipients to notes of at most :data:`MAX_NOTE_LENGTH`
    characters. A violated precondition raises ``ValueError`` naming it (this is a
    programming error, not bad user input).
    ``comment`` replaces the default header comment; any text is allowed (each line is
    written as a TOML comment; control characters become "?").
    Invariants: the result is valid TOML and
    ``table_from_toml(text=result)`` gives back ``owner``, ``version``, ``entries`` (same
    order) and ``notes``; percentages and the reserve are written as comments and as the
    informational ``reserve_millibips``.
    ``display`` (optional) is how each recipient is written, applied after every check: the
    public export passes the kernel's ``recipient_display`` so email addresses are masked
    (such a file reads back with a clear error on each masked address, never as another
    recipient).
    """
    parse_owner(owner)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise ValueError("version must be None or an int >= 1")
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"a table has at most {MAX_ENTRIES} entries, not {len(entries)}")
    notes = dict(notes or {})
    errors, _ = _check_entries(
        owner=owner,
        entries=[(i, r, m) for i, (r, m) in enumerate(entries, start=1)],
    )
    recipients = {recipient for recipient, _ in entries}
    for recipient, note in notes.items():
        if recipient not in recipients:
            errors.append(("notes", f"note for {recipient!r}, which is not an entry"))
        elif not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
            errors.append(
                (
                    "notes",
                    f"note for {recipient!r} must be text of at most {MAX_NOTE_LENGTH} characters",
                )
            )
    if errors:
        raise ValueError("; ".join(f"{where}: {message}" for where, message in errors))

    reserve = FULL_SHARE - sum(millibips for _, millibips in entries)
    lines = _comment_lines(
        comment if comment is not None else f"faiross.toml: share table of {owner}"
    )
    lines += [
        "#",
        "# 10_000_000 millibips = 100%. What the entries do not give away is the reserve,",
        "# kept by the owner. The format is described in FairOSS's docs/faiross-toml.md.",
        "",
        f"format = {FORMAT_VERSION}",
        f"owner = {toml_string(owner)}",
    ]
    if version is not None:
        lines.append(f"version = {version}  # informational: FairOSS numbers table versions")
    lines.append(
        f"reserve_millibips = {_format_int(reserve)}  # {format_percent(reserve)}, "
        "informational: what the entries leave to the owner"
    )
    for recipient, millibips in entries:
        lines += [
            "",
            "[[entry]]",
            f"recipient = {toml_string(display(recipient) if display else recipient)}",
            f"millibips = {_format_int(millibips)}  # {format_percent(millibips)}",
        ]
        if notes.get(recipient):
            lines.append(f"note = {toml_string(notes[recipient])}")
    return "\n".join(lines) + "\n"


def table_from_toml(*, text: str) -> ParsedTable:
    """Read and validate a faiross.toml text (format 1).

    Precondition: ``text`` is the decoded file (any string; a non-string is rejected).
    Checks (all reported together, not only the first): TOML syntax (with its line),
    ``format = 1`` present, no unknown keys at the top or in entries (typos), types
    (``millibips`` an integer: floats, strings and booleans are rejected), every
    recipient valid, millibips positive and at most 100%, no duplicate recipient, the
    owner not among the entries, at most :data:`MAX_ENTRIES` entries, the sum at most
    :data:`FULL_SHARE`, ``reserve_millibips`` absent or equal to the remainder,
    notes text of at most :data:`MAX_NOTE_LENGTH` characters.
    Invariants: a returned table satisfies :class:`ParsedTable`'s invariants; anything
    else raises :class:`TableFileError` (and no other exception).
    """
    if not isinstance(text, str):
        raise TableFileError([("file", "the file must be text")])
    if len(text) > MAX_TEXT_CHARS:
        raise TableFileError(
            [("file", f"the file has {len(text):,} characters; at most {MAX_TEXT_CHARS:,}")]
        )
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\s*\(at line (\d+), column \d+\)\s*$", message)
        if match:
            raise TableFileError(
                [(f"line {match.group(1)}", f"TOML syntax error: {message[: match.start()]}")]
            ) from None
        raise TableFileError([("file", f"TOML syntax error: {message}")]) from None
    except (ValueError, RecursionError) as exc:
        raise TableFileError([("file", f"cannot read the file: {str(exc)[:200]}")]) from None

    errors: list[tuple[str, str]] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            errors.append((key[:60], _unknown_key_message(key, TOP_LEVEL_KEYS)))

    fmt = data.get("format")
    if fmt is None:
        errors.append(("format", f"missing: the file must say 'format = {FORMAT_VERSION}'"))
    elif isinstance(fmt, bool) or not isinstance(fmt, int):
        errors.append(
            ("format", f"must be the whole number {FORMAT_VERSION} (format = {FORMAT_VERSION})")
        )
    elif fmt != FORMAT_VERSION:
        errors.append(
            ("format", f"format {fmt} is not supported; this FairOSS reads format {FORMAT_VERSION}")
        )

    owner = data.get("owner")
    if owner is not None:
        try:
            parse_owner(owner)
        except ValueError as exc:
            errors.append(("owner", str(exc)))
            owner = None

    version = data.get("version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        errors.append(("version", "must be a whole number of at least 1 (or left out)"))
        version = None

    raw_entries = data.get("entry", [])
    if isinstance(raw_entries, dict):
        errors.append(("entry", "write each entry under [[entry]] (double brackets), not [entry]"))
        raw_entries = []
    elif not isinstance(raw_entries, list):
        errors.append(("entry", "must be a list of [[entry]] tables"))
        raw_entries = []
    if len(raw_entries) > MAX_ENTRIES:
        errors.append(
            (
                "entries",
                f"the table has {len(raw_entries):,} entries; at most {MAX_ENTRIES} are allowed "
                "(give small shares to a project or person who passes them on)",
            )
        )
        raise TableFileError(errors)

    checked: list[tuple[int, object, object]] = []
    notes: dict[str, str] = {}
    for position, raw in enumerate(raw_entries, start=1):
        where = f"entry {position}"
        if not isinstance(raw, dict):
            errors.append((where, "must be a table with 'recipient' and 'millibips'"))
            continue
        for key in raw:
            if key not in ENTRY_KEYS:
                errors.append((where, _unknown_key_message(key, ENTRY_KEYS)))
        recipient = raw.get("recipient")
        if recipient is None:
            errors.append((where, "'recipient' is missing, e.g. recipient = \"project:numpy\""))
            recipient_ok = False
        else:
            recipient_ok = True
        note = raw.get("note")
        if note is not None:
            if not isinstance(note, str):
                errors.append((where, "'note' must be text in quotes"))
            elif len(note) > MAX_NOTE_LENGTH:
                errors.append((where, f"'note' is longer than {MAX_NOTE_LENGTH} characters"))
            elif isinstance(recipient, str) and note:
                notes[recipient] = note
        if recipient_ok:
            checked.append((position, recipient, raw.get("millibips")))
        else:
            problem = _millibips_problem(raw.get("millibips"))
            if problem is not None:
                errors.append((where, f"millibips {problem}"))

    entry_errors, accepted = _check_entries(owner=owner, entries=checked)
    errors.extend(entry_errors)

    reserve = data.get("reserve_millibips")
    if reserve is not None:
        if isinstance(reserve, bool) or not isinstance(reserve, int):
            errors.append(("reserve_millibips", "must be a whole number (or left out)"))
        elif not errors:
            remainder = FULL_SHARE - sum(m for _, m in accepted)
            if reserve != remainder:
                errors.append(
                    (
                        "reserve_millibips",
                        f"is {reserve:,} but the entries leave {remainder:,} "
                        f"({format_percent(remainder)}); correct it or delete the line "
                        "(it is informational)",
                    )
                )
    if errors:
        raise TableFileError(sorted(errors, key=_error_order))
    accepted_recipients = {recipient for recipient, _ in accepted}
    return ParsedTable(
        owner=owner,
        version=version,
        entries=accepted,
        notes={r: n for r, n in notes.items() if r in accepted_recipients},
    )
