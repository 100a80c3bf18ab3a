"""What the repository host and the package registries say, asked through the one outbound
client (:mod:`faiross.kernel.outbound`). Base URLs come from settings (``FAIROSS_GITHUB_API_URL``,
``FAIROSS_GITHUB_RAW_URL``, ``FAIROSS_PYPI_URL``, ``FAIROSS_NPM_URL``), so tests point them at a
local server.

Every path part that comes from user input (an owner, a repository, a package name) is checked
against the host's own naming rule and percent-quoted, so no input can change the host or
climb out of the path. Failures raise :class:`HostError` with a message for the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from packageurl import PackageURL

from faiross.kernel.outbound import OutboundError, OutboundResponse, outbound_get

# GitHub's rules: logins are letters, digits and single hyphens; repositories also take . and _.
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_GITHUB_HOSTS = ("github.com", "www.github.com")
# How registries write a GitHub repository: https://github.com/o/r(.git), git+https://…,
# git://…, git@github.com:o/r.git, or npm's shorthand github:o/r.
_GITHUB_IN_TEXT = re.compile(
    r"(?:github\.com[/:]|^github:)([A-Za-z0-9-]{1,39})/([A-Za-z0-9._-]{1,100}?)(?:\.git)?(?:[/#?].*)?$"
)
REGISTRY_TYPES = ("pypi", "npm")


class HostError(Exception):
    """A host that gave no usable answer, or input it cannot be asked about."""


@dataclass(frozen=True)
class GitHubRepo:
    owner: str
    name: str

    @property
    def key(self) -> str:
        """The repository as FairOSS compares it: ``github.com/<owner>/<name>``, lower-case."""
        return f"github.com/{self.owner.lower()}/{self.name.lower()}"

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


def github_repo_parse(url: str) -> GitHubRepo | None:
    """The GitHub repository a URL names (``https://github.com/o/r``, with or without
    ``.git``, a trailing slash or a deeper path), or ``None`` for anything else."""
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() not in _GITHUB_HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        return None
    owner, name = segments[0], segments[1].removesuffix(".git")
    if not _GITHUB_OWNER.match(owner) or not _GITHUB_REPO.match(name) or name in (".", ".."):
        return None
    return GitHubRepo(owner, name)


def github_repo_in_text(text: str) -> GitHubRepo | None:
    """The GitHub repository a registry's free-form repository field names, if any."""
    value = (text or "").strip()
    if value.startswith("git+"):
        value = value[4:]
    match = _GITHUB_IN_TEXT.search(value)
    if not match:
        return None
    owner, name = match.group(1), match.group(2)
    if not _GITHUB_OWNER.match(owner) or name in (".", ".."):
        return None
    return GitHubRepo(owner, name)


def repository_key(url: str) -> str:
    """How a repository URL is compared for ownership ('' when FairOSS cannot tell)."""
    repo = github_repo_parse(url)
    return repo.key if repo else ""


def _get(url: str, **kwargs: Any) -> OutboundResponse:
    try:
        return outbound_get(url, **kwargs)
    except OutboundError as exc:
        raise HostError(str(exc)) from None


def _base(setting: str) -> str:
    return str(getattr(settings, setting)).rstrip("/")


def _json(response: OutboundResponse, *, host: str, not_found: str) -> Any:
    """The decoded body of a host's answer; raises ``HostError`` saying ``not_found`` for a 404
    and asking to try later for any other failure."""
    if response.status == 404:
        raise HostError(not_found)
    if not response.ok:
        raise HostError(f"{host} answered {response.status}; try again later.")
    return response.json()


# --- GitHub ---------------------------------------------------------------------------------


def raw_file_fetch(*, repo: GitHubRepo, path: str) -> str | None:
    """The text of ``path`` on the default branch of ``repo``, or ``None`` if there is none."""
    quoted = "/".join(quote(part, safe="") for part in path.split("/"))
    url = f"{_base('FAIROSS_GITHUB_RAW_URL')}/{quote(repo.owner)}/{quote(repo.name)}/HEAD/{quoted}"
    response = _get(url, max_bytes=256 * 1024)
    if response.status == 404:
        return None
    if not response.ok:
        raise HostError(f"GitHub answered {response.status} for {path} of {repo}; try again later.")
    return response.text


def github_permissions(*, repo: GitHubRepo, token: str) -> dict[str, bool]:
    """What the owner of ``token`` may do on ``repo`` (GitHub's ``permissions`` object)."""
    url = f"{_base('FAIROSS_GITHUB_API_URL')}/repos/{quote(repo.owner)}/{quote(repo.name)}"
    response = _get(
        url,
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    if response.status == 401:
        raise HostError(
            "GitHub no longer accepts FairOSS's sign-in of your account: sign in with GitHub "
            "again, then check again."
        )
    data = _json(
        response,
        host="GitHub",
        not_found=f"GitHub says the repository {repo} does not exist or your GitHub account "
        "cannot see it.",
    )
    permissions = data.get("permissions") if isinstance(data, dict) else None
    if not isinstance(permissions, dict):
        raise HostError(f"GitHub did not say what your account may do on {repo}.")
    return {str(k): v is True for k, v in permissions.items()}


# --- package registries ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryPackage:
    """What a registry says about one package: who owns or maintains it, and which
    repositories it names. Emails and usernames are lower-case."""

    registry: str
    name: str
    url: str
    emails: frozenset[str] = frozenset()
    usernames: frozenset[str] = frozenset()
    repositories: frozenset[str] = field(default=frozenset())  # GitHubRepo keys


def registry_name(purl: str) -> tuple[str, str]:
    """``(registry, package name)`` of a purl the registry check supports."""
    parsed = PackageURL.from_string(purl)
    if parsed.type not in REGISTRY_TYPES:
        raise HostError(
            f"{purl}: FairOSS can ask PyPI and npm only, not the {parsed.type} registry; use "
            "another method or ask FairOSS staff."
        )
    if parsed.type == "npm" and parsed.namespace:
        return "npm", f"{parsed.namespace}/{parsed.name}"
    return parsed.type, parsed.name


def registry_supported(purl: str) -> bool:
    """Whether the registry check can ask about ``purl`` (PyPI and npm packages)."""
    try:
        registry_name(purl)
    except (HostError, ValueError):
        return False
    return True


def _emails(*values: object) -> set[str]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, str) and "@" in value:
            found.update(addr.lower() for _, addr in getaddresses([value]) if "@" in addr)
    return found


def _repos(*values: object) -> set[str]:
    keys = set()
    for value in values:
        if isinstance(value, dict):
            value = value.get("url")
        if isinstance(value, str):
            repo = github_repo_in_text(value)
            if repo is not None:
                keys.add(repo.key)
    return keys


def _pypi(name: str) -> RegistryPackage:
    url = f"{_base('FAIROSS_PYPI_URL')}/pypi/{quote(name, safe='')}/json"
    response = _get(url)
    data = _json(response, host="PyPI", not_found=f"PyPI has no package '{name}'.")
    info = data.get("info") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise HostError(f"PyPI's answer about '{name}' has no 'info'.")
    usernames: set[str] = set()
    ownership = data.get("ownership")
    roles = ownership.get("roles") if isinstance(ownership, dict) else None
    for role in roles if isinstance(roles, list) else []:
        if isinstance(role, dict) and isinstance(role.get("user"), str):
            usernames.add(role["user"].lower())
    project_urls = info.get("project_urls")
    links = list(project_urls.values()) if isinstance(project_urls, dict) else []
    return RegistryPackage(
        registry="PyPI",
        name=name,
        url=url,
        emails=frozenset(_emails(info.get("author_email"), info.get("maintainer_email"))),
        usernames=frozenset(usernames),
        repositories=frozenset(_repos(info.get("home_page"), *links)),
    )


def _npm(name: str) -> RegistryPackage:
    url = f"{_base('FAIROSS_NPM_URL')}/{quote(name, safe='@')}"
    response = _get(url, max_bytes=int(settings.FAIROSS_NPM_MAX_BYTES))
    data = _json(response, host="npm", not_found=f"npm has no package '{name}'.")
    if not isinstance(data, dict):
        raise HostError(f"npm's answer about '{name}' is not a package document.")
    emails: set[str] = set()
    usernames: set[str] = set()
    maintainers = data.get("maintainers")
    for person in maintainers if isinstance(maintainers, list) else []:
        if isinstance(person, dict):
            emails |= _emails(person.get("email"))
            if isinstance(person.get("name"), str):
                usernames.add(person["name"].lower())
    bugs = data.get("bugs")
    return RegistryPackage(
        registry="npm",
        name=name,
        url=url,
        emails=frozenset(emails),
        usernames=frozenset(usernames),
        repositories=frozenset(
            _repos(data.get("repository"), data.get("homepage"), bugs if bugs else None)
        ),
    )


def registry_package(*, purl: str) -> RegistryPackage:
    """Ask the registry of ``purl`` (PyPI or npm) about the package."""
    registry, name = registry_name(purl)
    return _pypi(name) if registry == "pypi" else _npm(name)
