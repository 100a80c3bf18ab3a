"""Funding metadata: FLOSS/fund ``funding.json``, GitHub ``FUNDING.yml`` and Drips ``FUNDING.json``.

Only what FairOSS can use comes out: links people can follow to fund the project, and
recipients (``github:<login>``, ``email:<address>``) that money could wait in escrow for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from faiross.kernel.recipients import GITHUB_LOGIN_RE, email_key, github_key, is_valid_email

from .base import ImportFileError, decode_text, describe_type, fail, file_label, load_json

FORMAT_FUNDING_JSON = "funding-json"
FORMAT_GITHUB_FUNDING = "github-funding-yml"
FORMAT_DRIPS = "drips-json"
# Funding manifests are a few kilobytes; YAML parsing of megabytes takes seconds.
MAX_FUNDING_FILE_BYTES = 256 * 1024
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 5000
MAX_LINKS = 50
SUPPORTED_FUNDING_FILES = (
    "funding.json (FLOSS/fund), .github/FUNDING.yml (GitHub) and FUNDING.json (Drips)"
)


@dataclass(frozen=True)
class FundingInfo:
    """Useful funding facts from one file.

    Invariants: ``links`` are ``(label, url)`` with http(s) URLs only, no URL twice;
    ``people`` are valid recipient strings (``github:<login>`` or ``email:<address>``), no
    duplicates; ``warnings`` are sentences about what was ignored and why.
    """

    links: list[tuple[str, str]] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    homepage: str | None = None
    description: str | None = None
    warnings: list[str] = field(default_factory=list)
    format: str = ""


class _Builder:
    def __init__(self, label: str, fmt: str) -> None:
        self.label = label
        self.fmt = fmt
        self.links: list[tuple[str, str]] = []
        self.people: list[str] = []
        self.homepage: str | None = None
        self.description: str | None = None
        self.warnings: list[str] = []

    def link(self, label: str, url: str) -> None:
        clean = clean_url(url)
        if clean is None:
            self.warn(f"ignored {label!r}: {url[:100]!r} is not an http(s) URL")
            return
        if all(existing != clean for _, existing in self.links) and len(self.links) < MAX_LINKS:
            self.links.append((label, clean))

    def person(self, recipient: str) -> None:
        if recipient not in self.people:
            self.people.append(recipient)

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.label}: {message}")

    def result(self) -> FundingInfo:
        if not (self.links or self.people or self.homepage):
            self.warn("no funding links or recipients were found in this file")
        return FundingInfo(
            links=self.links,
            people=self.people,
            homepage=self.homepage,
            description=self.description,
            warnings=self.warnings,
            format=self.fmt,
        )


def clean_url(value: object) -> str | None:
    """``value`` stripped if it is an absolute http(s) URL with a host, else ``None``."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > MAX_URL_LENGTH or any(ch.isspace() for ch in url):
        return None
    if not url.isprintable():
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    # A public funding page has a dotted host name ("https://javascript:x" has none).
    if "." not in parts.hostname.strip("."):
        return None
    return url


def _text(value: object, limit: int = MAX_DESCRIPTION_LENGTH) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    return None


# --- FLOSS/fund funding.json ------------------------------------------------------------------


def _url_of(value: object) -> str | None:
    """funding.json writes URLs as ``{"url": ..., "wellKnown": ...}``."""
    if isinstance(value, dict):
        return clean_url(value.get("url"))
    return None


def _dict(builder: _Builder, value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(builder.label, f"'{where}' must be an object, not {describe_type(value)}")
    return value


def _list(builder: _Builder, value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise fail(builder.label, f"'{where}' must be a list, not {describe_type(value)}")
    return value


def _parse_floss_fund(builder: _Builder, data: dict[str, Any]) -> None:
    version = data.get("version")
    if not isinstance(version, str) or not re.fullmatch(r"v1\.\d+\.\d+", version):
        builder.warn(f"version {version!r} is not a v1.x funding.json version; read as v1.0.0")
    entity = _dict(builder, data.get("entity", {}), "entity")
    email = entity.get("email")
    if isinstance(email, str) and email.strip():
        address = email.strip()
        if is_valid_email(address):
            builder.person(email_key(address))
        else:
            builder.warn(f"entity email {address[:100]!r} is not a valid email address")
    entity_url = _url_of(entity.get("webpageUrl"))

    projects = _list(builder, data.get("projects", []), "projects")
    for index, project in enumerate(projects):
        _dict(builder, project, f"projects[{index}]")
    if len(projects) == 1:
        project = projects[0]
        builder.homepage = _url_of(project.get("webpageUrl")) or entity_url
        builder.description = _text(project.get("description")) or _text(entity.get("description"))
        repo = _url_of(project.get("repositoryUrl"))
        if repo:
            builder.link("Repository", repo)
    else:
        builder.homepage = entity_url
        builder.description = _text(entity.get("description"))
        if projects:
            names = ", ".join(str(p.get("name", p.get("guid", "?")))[:60] for p in projects[:5])
            builder.warn(
                f"the file lists {len(projects)} projects ({names}); the entity's homepage "
                "and description were used"
            )

    funding = _dict(builder, data.get("funding", {}), "funding")
    for index, channel in enumerate(
        _list(builder, funding.get("channels", []), "funding.channels")
    ):
        channel = _dict(builder, channel, f"funding.channels[{index}]")
        channel_address = channel.get("address")
        raw_type, raw_guid = channel.get("type"), channel.get("guid")
        ctype = raw_type if isinstance(raw_type, str) else "channel"
        guid = raw_guid if isinstance(raw_guid, str) else str(index + 1)
        if clean_url(channel_address):
            builder.link(f"{guid} ({ctype})", str(channel_address))
        elif isinstance(channel_address, str) and channel_address.strip():
            builder.warn(f"channel '{guid}' ({ctype}) has an address that is not a URL; ignored")


def _is_json_schema(data: dict[str, Any]) -> bool:
    schema = data.get("$schema")
    if isinstance(schema, str) and "json-schema.org" in schema:
        return True
    return data.get("type") == "object" and isinstance(data.get("properties"), dict)


# --- GitHub FUNDING.yml -----------------------------------------------------------------------

# GitHub's documented platforms: label and how a value becomes a URL.
_GITHUB_PLATFORMS = {
    "patreon": ("Patreon", "https://www.patreon.com/{}"),
    "open_collective": ("Open Collective", "https://opencollective.com/{}"),
    "ko_fi": ("Ko-fi", "https://ko-fi.com/{}"),
    "tidelift": ("Tidelift", "https://tidelift.com/funding/github/{}"),
    "community_bridge": ("LFX Mentorship", "https://funding.communitybridge.org/projects/{}"),
    "liberapay": ("Liberapay", "https://liberapay.com/{}"),
    "issuehunt": ("IssueHunt", "https://issuehunt.io/r/{}"),
    "lfx_crowdfunding": (
        "LFX Crowdfunding",
        "https://crowdfunding.lfx.linuxfoundation.org/projects/{}",
    ),
    "polar": ("Polar", "https://polar.sh/{}"),
    "buy_me_a_coffee": ("Buy Me a Coffee", "https://buymeacoffee.com/{}"),
    "thanks_dev": ("thanks.dev", "https://thanks.dev/{}"),
    "otechie": ("Otechie", "https://otechie.com/{}"),
}
_PLATFORM_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
_MAX_VALUES_PER_KEY = 20


def _values(builder: _Builder, key: str, value: object) -> list[str]:
    """A FUNDING.yml value: a string, a list of strings, or empty (GitHub's template)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items[:_MAX_VALUES_PER_KEY]:
        if isinstance(item, str) and item.strip():
            result.append(item.strip())
        elif item is not None:
            builder.warn(f"'{key}' has a value that is not text ({describe_type(item)}); ignored")
    return result


def _parse_github_funding(builder: _Builder, data: dict[str, Any]) -> None:
    for key, value in data.items():
        key_text = str(key)
        if key_text == "github":
            for login in _values(builder, key_text, value):
                if GITHUB_LOGIN_RE.fullmatch(login):
                    builder.person(github_key(login))
                    builder.link(
                        f"GitHub Sponsors: {login}", f"https://github.com/sponsors/{login}"
                    )
                else:
                    builder.warn(f"'{login[:60]}' is not a GitHub login; ignored")
        elif key_text == "custom":
            for url in _values(builder, key_text, value):
                # GitHub accepts "paypal.me/x" without a scheme and links it as https.
                if re.match(r"(?i)^[a-z][a-z0-9+.-]*://", url):
                    full = url
                elif re.match(r"(?i)^[a-z][a-z0-9+.-]*:(?!\d)", url):
                    builder.warn(f"custom link {url[:60]!r} is not an http(s) URL; ignored")
                    continue
                else:
                    full = f"https://{url}"
                host = urlsplit(full).hostname if clean_url(full) else None
                builder.link(host or "Custom", full)
        elif key_text in _GITHUB_PLATFORMS:
            platform, template = _GITHUB_PLATFORMS[key_text]
            for account in _values(builder, key_text, value):
                if _PLATFORM_ACCOUNT.fullmatch(account) and ".." not in account:
                    builder.link(f"{platform}: {account}", template.format(quote(account)))
                else:
                    builder.warn(f"'{key_text}' value {account[:60]!r} is not an account name")
        else:
            builder.warn(f"unknown platform '{key_text[:60]}' ignored")


# --- Drips FUNDING.json ----------------------------------------------------------------------


def _parse_drips(builder: _Builder, data: dict[str, Any]) -> None:
    drips = _dict(builder, data["drips"], "drips")
    for network, info in drips.items():
        owner = info.get("ownedBy") if isinstance(info, dict) else None
        if isinstance(owner, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", owner):
            builder.warn(
                f"Drips ({network}) names the address {owner} as the project's owner; FairOSS "
                "does not pay blockchain addresses, so nothing was imported from it"
            )
        else:
            builder.warn(f"Drips ({str(network)[:40]}) entry has no valid 'ownedBy' address")


# --- entry point ------------------------------------------------------------------------------


def parse_funding_file(*, filename: str, content: bytes) -> FundingInfo:
    """Read a funding manifest: FLOSS/fund funding.json, GitHub FUNDING.yml or Drips JSON.

    Preconditions: ``filename`` is the uploaded name (``*.yml``/``*.yaml`` is read as
    GitHub's FUNDING.yml; ``*.json`` by content); ``content`` is the file's bytes.
    Decisions: a JSON Schema (such as funding.schema.json) is not a manifest and is
    rejected with a message saying so; funding.json's entity email becomes
    ``email:<address>``; GitHub Sponsors logins become ``github:<login>``; channel
    addresses and platform accounts become links; with exactly one project its webpage
    and description are used, else the entity's. A Drips file only names blockchain
    addresses, which FairOSS cannot pay: it gives a warning and no recipients.
    Invariants: see :class:`FundingInfo`; bad input raises
    :class:`~projects.importers.base.ImportFileError` and nothing else.
    """
    if not isinstance(content, bytes | bytearray):
        raise TypeError("content must be bytes")
    label = file_label(filename)
    if len(content) > MAX_FUNDING_FILE_BYTES:
        raise fail(
            label,
            f"the file is {len(content):,} bytes; a funding file may be at most "
            f"{MAX_FUNDING_FILE_BYTES:,} bytes",
        )
    text = decode_text(label=label, content=bytes(content))
    name = label.lower()

    if name.endswith((".yml", ".yaml")):
        builder = _Builder(label, FORMAT_GITHUB_FUNDING)
        try:
            # The C loader when PyYAML has it (much faster); both construct only plain data.
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
            raise fail(label, f"YAML syntax error: {exc.problem or exc}", line=line) from None
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
            raise fail(label, f"YAML error: {str(exc)[:200]}") from None
        if data is None:
            builder.warn("the file is empty")
            return builder.result()
        if not isinstance(data, dict):
            raise fail(
                label,
                "FUNDING.yml must map platforms to accounts (e.g. 'github: [octocat]'), "
                f"not be {describe_type(data)}",
            )
        _parse_github_funding(builder, data)
        return builder.result()

    if name.endswith(".json") or text.lstrip().startswith("{"):
        try:
            data = load_json(label=label, text=text)
        except ImportFileError as exc:
            if re.search(r"(?m)^[ \t]*//|,\s*//", text):
                raise ImportFileError(
                    f"{exc.message}; JSON does not allow // comments (this looks like the "
                    "annotated funding.json template, not a manifest)",
                    exc.line,
                ) from None
            raise
        if not isinstance(data, dict):
            raise fail(label, f"a funding file must be a JSON object, not {describe_type(data)}")
        if _is_json_schema(data):
            raise fail(
                label,
                "this is a JSON Schema that describes funding.json files, not a funding.json "
                "manifest; upload the project's own funding.json",
            )
        if "drips" in data:
            builder = _Builder(label, FORMAT_DRIPS)
            _parse_drips(builder, data)
            return builder.result()
        if "entity" in data or "funding" in data:
            builder = _Builder(label, FORMAT_FUNDING_JSON)
            _parse_floss_fund(builder, data)
            return builder.result()
        raise fail(
            label,
            "this JSON file is not a funding manifest: expected a funding.json with "
            "'entity' and 'funding', or a Drips FUNDING.json with 'drips'",
        )
    raise fail(label, f"unsupported funding file; FairOSS reads {SUPPORTED_FUNDING_FILES}")
