"""Who a share-table entry names: one pure parser for every recipient string.

A recipient is ``<kind>:<identifier>``:

- ``project:<slug>``: a FairOSS project (slug ``^[a-z0-9][a-z0-9-]{0,49}$``)
- ``user:<username>``: a FairOSS user (Django's default rule ``^[\\w.@+-]+$``, at most 150)
- ``github:<login>``: a GitHub account not yet on FairOSS
- ``email:<address>``: a person known by email, not yet on FairOSS
- ``purl:<package-url>``: a package not yet claimed as a FairOSS project, without version

Keys are built only by the builders at the end of this module (:func:`project_key`,
:func:`user_key`, :func:`company_key`, :func:`github_key`, :func:`email_key`,
:func:`purl_key`) and taken apart by :func:`recipient_split`.

The models, the API, the faiross.toml reader and the importers all call
:func:`parse_recipient`, so a recipient accepted in one place is accepted everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from packageurl import PackageURL
from packaging.utils import canonicalize_name

RECIPIENT_KINDS = ("project", "user", "github", "email", "purl", "market")
MAX_RECIPIENT_LENGTH = 300
MAX_PURL_LENGTH = 255
MAX_EMAIL_LENGTH = 254

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")
USERNAME_RE = re.compile(r"[\w.@+-]+")
MAX_USERNAME_LENGTH = 150
GITHUB_LOGIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
TICKER_RE = re.compile(r"[A-Z]{2,8}")

# Characters allowed unquoted in an email's local part (RFC 5322 atext), plus any
# non-ASCII letter, digit, mark or symbol (RFC 6531 internationalised addresses).
_ATEXT_ASCII = set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)
_DOMAIN_LABEL_ASCII = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class RecipientError(ValueError):
    """A recipient string that FairOSS does not accept; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _is_visible(ch: str) -> bool:
    """Not a control, format, surrogate, private-use, unassigned or separator character."""
    category = unicodedata.category(ch)
    return category[0] not in "CZ"


def _valid_local_part(local: str) -> bool:
    if not local or len(local) > 64:
        return False
    if local.startswith('"'):
        # Quoted form: "any visible text or spaces"; a quote or backslash inside must be
        # escaped with a backslash.
        if len(local) < 2 or not local.endswith('"'):
            return False
        body = local[1:-1]
        index = 0
        while index < len(body):
            ch = body[index]
            if ch == "\\":
                if index + 1 >= len(body) or body[index + 1] not in '"\\':
                    return False
                index += 2
                continue
            if ch == '"' or not (ch == " " or _is_visible(ch)):
                return False
            index += 1
        return True
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return all(
        ch == "." or ch in _ATEXT_ASCII or (ord(ch) > 127 and _is_visible(ch)) for ch in local
    )


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253:
        return False
    for label in labels:
        if not label or len(label) > 63:
            return False
        if label.isascii():
            if not _DOMAIN_LABEL_ASCII.fullmatch(label):
                return False
        elif (
            label.startswith("-")
            or label.endswith("-")
            or not all(ch == "-" or unicodedata.category(ch)[0] in "LMN" for ch in label)
        ):
            return False
    # A top-level domain is never all digits (that would be an IP address).
    return not labels[-1].isdigit()


def is_valid_email(address: str) -> bool:
    """A simple, sane email check: ``local@domain.tld`` as RFC 5321/6531 allow it.

    The local part is a dot-atom (ASCII atext or non-ASCII visible characters, no
    leading, trailing or double dot) or a quoted string; the domain has at least two
    labels of letters, digits and inner hyphens (non-ASCII letters allowed for IDNs)
    and a non-numeric top-level label. No whitespace (outside quotes), controls or
    invisible characters; at most 254 characters.
    """
    if len(address) > MAX_EMAIL_LENGTH:
        return False
    local, at, domain = address.rpartition("@")
    if not at:
        return False
    return _valid_local_part(local) and _valid_domain(domain)


def _parse_purl(identifier: str) -> None:
    if len(identifier) > MAX_PURL_LENGTH:
        raise RecipientError(f"a package URL may be at most {MAX_PURL_LENGTH} characters")
    if not identifier.startswith("pkg:"):
        raise RecipientError(
            f"'purl:{identifier}' must be followed by a package URL starting with 'pkg:', "
            "e.g. purl:pkg:pypi/requests"
        )
    if any(not _is_visible(ch) for ch in identifier):
        raise RecipientError("a package URL may not contain spaces or invisible characters")
    try:
        parsed = PackageURL.from_string(identifier)
    except ValueError as exc:
        raise RecipientError(f"'{identifier}' is not a valid package URL: {exc}") from None
    if parsed.version:
        raise RecipientError(
            f"'{identifier}' names a version ({parsed.version}); a purl recipient names a "
            "package, so leave out '@...'"
        )
    if parsed.qualifiers or parsed.subpath:
        raise RecipientError(
            f"'{identifier}' has qualifiers or a subpath; a purl recipient names a package "
            "only (pkg:<type>/<namespace>/<name>)"
        )


# What each kind but ``purl`` accepts as its identifier, and the rule a refusal states.
_IDENTIFIER_RULES: dict[str, tuple[Callable[[str], object], str]] = {
    "project": (
        SLUG_RE.fullmatch,
        "is not a project slug: use 1-50 lower-case letters, digits and hyphens, starting with "
        "a letter or digit",
    ),
    "user": (
        lambda name: len(name) <= MAX_USERNAME_LENGTH and USERNAME_RE.fullmatch(name),
        f"is not a username: use at most {MAX_USERNAME_LENGTH} letters, digits and @ . + - _",
    ),
    "github": (
        GITHUB_LOGIN_RE.fullmatch,
        "is not a GitHub login: 1-39 letters, digits and hyphens, not starting with a hyphen",
    ),
    "email": (is_valid_email, "is not a valid email address"),
    "market": (TICKER_RE.fullmatch, "is not a ticker: use 2-8 capital letters"),
}


def parse_recipient(value: str) -> tuple[str, str]:
    """Split and validate a recipient string; return ``(kind, identifier)``.

    Precondition: none (``value`` is untrusted input; a non-string is rejected too).
    Invariants: ``kind`` is one of :data:`RECIPIENT_KINDS`; ``f"{kind}:{identifier}"``
    equals ``value`` exactly (nothing is trimmed or re-cased here: use
    :func:`canonical_recipient` to compare two recipients). Raises
    :class:`RecipientError` with a message that names the rule that failed.
    """
    if not isinstance(value, str):
        raise RecipientError("a recipient must be a string like 'project:numpy'")
    if len(value) > MAX_RECIPIENT_LENGTH:
        raise RecipientError(f"a recipient may be at most {MAX_RECIPIENT_LENGTH} characters")
    if value != value.strip():
        raise RecipientError(f"recipient {value.strip()!r} must not have spaces around it")
    kind, colon, identifier = value.partition(":")
    if not colon or kind not in RECIPIENT_KINDS:
        raise RecipientError(
            f"{value!r} is not a recipient: write one of "
            "project:<slug>, user:<username>, github:<login>, email:<address>, "
            "purl:<package-url>"
        )
    if not identifier:
        raise RecipientError(f"'{kind}:' needs something after the colon")
    rule = _IDENTIFIER_RULES.get(kind)
    if rule is None:
        _parse_purl(identifier)
    elif not rule[0](identifier):
        raise RecipientError(f"'{identifier}' {rule[1]}")
    return kind, identifier


def canonical_recipient(value: str) -> str:
    """The form two spellings of one recipient share, for finding duplicates.

    GitHub logins are case-insensitive; an email's domain is case-insensitive (its local
    part is kept); a purl is normalised by packageurl-python with PyPI names PEP 503
    normalised. Projects and users are already canonical. Raises :class:`RecipientError`
    like :func:`parse_recipient`.
    """
    kind, identifier = parse_recipient(value)
    if kind == "github":
        return github_key(identifier.lower())
    if kind == "email":
        local, _, domain = identifier.rpartition("@")
        return email_key(f"{local}@{domain.lower()}")
    if kind == "purl":
        parsed = PackageURL.from_string(identifier)
        name = canonicalize_name(parsed.name) if parsed.type.lower() == "pypi" else parsed.name
        normalized = PackageURL(
            type=parsed.type.lower(), namespace=parsed.namespace or None, name=name
        ).to_string()
        return purl_key(normalized)
    return value


# --- Building keys -------------------------------------------------------------------------
# The one place that spells ``<kind>:<identifier>``. The builders do not validate: they take
# identifiers that are already valid (a saved slug or username, a verified address); untrusted
# text goes through parse_recipient. ``company:<slug>`` is not an entry recipient but the key
# of a company as a table owner and as a ledger account owner.


def _key_builder(kind: str, identifier: str, meaning: str) -> Callable[[str], str]:
    """The builder of ``<kind>:<identifier>`` keys, documented as ``meaning``."""

    def build(value: str) -> str:
        return f"{kind}:{value}"

    build.__name__ = build.__qualname__ = f"{kind}_key"
    build.__doc__ = f"``{kind}:<{identifier}>``: {meaning}."
    return build


project_key = _key_builder("project", "slug", "a FairOSS project as a recipient or a table owner")
user_key = _key_builder("user", "username", "a FairOSS user")
company_key = _key_builder(
    "company", "slug", "a company as a table owner and a ledger account owner"
)
github_key = _key_builder("github", "login", "a GitHub account not yet on FairOSS")
email_key = _key_builder("email", "address", "a person known by email, not yet on FairOSS")
purl_key = _key_builder("purl", "package-url", "a package not yet claimed as a FairOSS project")
market_key = _key_builder("market", "TICKER", "the investors holding a listed project's units")


def recipient_split(key: str) -> tuple[str, str]:
    """``"project:numpy"`` → ``("project", "numpy")``, without validating (for keys FairOSS
    built itself; use :func:`parse_recipient` for untrusted input). Raises ``ValueError``
    when ``key`` has no colon."""
    kind, colon, ident = key.partition(":")
    if not colon:
        raise ValueError(f"{key!r} is not a key like 'project:numpy'")
    return kind, ident


# --- Showing keys -------------------------------------------------------------------------
# Email addresses are private (money rule 9): everyone but staff and the address's owner sees
# ``email:z***@example.org``. The mask keeps the first character and the domain, so a person
# can recognise their own entry and the others learn nothing they could write to.

EMAIL_MASK = "***"


def email_mask(address: str) -> str:
    """``"zoe@example.org"`` → ``"z***@example.org"``; a text without ``@`` → ``"***"``.

    Precondition: none (any text). Invariant: the result never contains the local part
    beyond its first visible character (a quoted local part loses its quote first)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return EMAIL_MASK
    first = local.lstrip('"')[:1]
    return f"{first}{EMAIL_MASK}@{domain}"


def is_masked_email(address: str) -> bool:
    """True for what :func:`email_mask` writes (one character at most, then ``***@``): such
    an address came from a public page or export and names nobody."""
    local, at, _ = address.rpartition("@")
    return bool(at) and local.endswith(EMAIL_MASK) and len(local) <= len(EMAIL_MASK) + 1


def recipient_display(key: str, *, reveal: bool) -> str:
    """How ``key`` is shown: unchanged when ``reveal`` (the viewer is staff or owns the
    address) or when it is not an ``email:`` key; else ``email:`` plus :func:`email_mask`.

    Precondition: none (``key`` is any text; one without a colon is returned as it is).
    The one masking rule: pages, template filters, the API and the faiross.toml export all
    call this function."""
    kind, colon, identifier = key.partition(":")
    if reveal or not colon or kind != "email":
        return key
    return email_key(email_mask(identifier))


def recipient_label(key: str, *, reveal: bool) -> str:
    """How a page names ``key`` to a person (keys are for the API and the database):
    ``user:bob`` → ``bob``, ``github:octocat`` → ``octocat (GitHub)``, ``email:…`` → the address
    (masked unless ``reveal``), ``purl:pkg:pypi/x`` → ``pkg:pypi/x``, ``project:``/``company:``
    → the slug. Anything else is returned as it is."""
    kind, colon, identifier = key.partition(":")
    if not colon or not identifier:
        return key
    if kind == "email":
        return identifier if reveal else email_mask(identifier)
    if kind == "github":
        return f"{identifier} (GitHub)"
    if kind in ("user", "project", "company", "purl", "market"):
        return identifier
    return key


PERSON_KINDS = ("user", "github", "email")


def is_person_key(key: str) -> bool:
    """A key that names a person (``user:``, ``github:``, ``email:``): what a person received
    is private (money rule 9), unlike what projects, companies and packages received."""
    return key.partition(":")[0] in PERSON_KINDS
