"""The three automatic proofs of ownership. Each asks a host (never writes anything) and
returns a :class:`CheckResult` (what was proved, as evidence), or raises
``ValidationError({"<method>": [message]})`` saying why the proof failed in words a steward
can act on (host unreachable, token not found, no permission).
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from ..models import Project, ProjectVerification
from .hosts import (
    GitHubRepo,
    HostError,
    RegistryPackage,
    github_permissions,
    github_repo_parse,
    raw_file_fetch,
    registry_package,
    registry_supported,
)

Method = ProjectVerification.Method
TOKEN_FILES = ("faiross.toml", ".well-known/faiross")
# GitHub's roles that may change a repository's settings and who may push: proof enough.
GITHUB_ROLES = ("admin", "maintain")


@dataclass
class CheckResult:
    """What a check proved. ``evidence`` is stored with the proof: ``purls`` (those the proof
    covers) and ``repository`` (a :attr:`GitHubRepo.key`, or '') are what ownership rules read."""

    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def purls(self) -> list[str]:
        return list(self.evidence.get("purls", []))


def _fail(method: str, message: str) -> ValidationError:
    return ValidationError({method: [message]})


def verification_token(*, project: Project, user: User) -> str:
    """The token ``user`` commits to prove control of ``project``'s repository.

    Invariant: the same for the same project and person (it can be committed once and checked
    any time), different for everyone else, so another person who sees it committed cannot use
    it; derived from ``SECRET_KEY`` (rotating the key changes every token).
    """
    message = f"faiross-verification:{project.pk}:{project.slug}:{user.pk}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    return f"faiross-{digest[:32]}"


def user_github_login(*, user: User) -> str:
    """The GitHub login linked to ``user`` by a GitHub sign-in, or ''."""
    account = SocialAccount.objects.filter(user=user, provider="github").first()
    login = (account.extra_data or {}).get("login") if account else None
    return login.lower() if isinstance(login, str) else ""


def _verified_emails(user: User) -> set[str]:
    return {
        e.lower()
        for e in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    }


def _supported_purls(project: Project) -> list[str]:
    purls = project.purls.values_list("purl", flat=True).order_by("purl")
    return [p for p in purls if registry_supported(p)]


def _packages(purls: Sequence[str]) -> tuple[dict[str, RegistryPackage], dict[str, str]]:
    """What the registries say about each purl, and why for those they could not say."""
    found: dict[str, RegistryPackage] = {}
    problems: dict[str, str] = {}
    for purl in purls:
        try:
            found[purl] = registry_package(purl=purl)
        except HostError as exc:
            problems[purl] = str(exc)
    return found, problems


def project_repository(*, project: Project) -> tuple[GitHubRepo | None, str]:
    """The GitHub repository a repository proof is about, and where FairOSS learned it: the
    project's repository URL, or (for a placeholder without one) the repository a registry
    names for one of its packages."""
    repo = github_repo_parse(project.repo_url)
    if repo is not None:
        return repo, "the project's repository URL"
    if project.repo_url:
        return None, ""
    packages, _ = _packages(_supported_purls(project))
    for purl, package in sorted(packages.items()):
        for key in sorted(package.repositories):
            _, owner, name = key.split("/")
            return GitHubRepo(owner, name), f"{package.registry} for {purl}"
    return None, ""


def _repository_or_fail(method: str, project: Project) -> tuple[GitHubRepo, str]:
    repo, source = project_repository(project=project)
    if repo is None:
        if project.repo_url:
            raise _fail(
                method,
                f"The repository URL {project.repo_url} is not a GitHub repository; FairOSS can "
                "check GitHub repositories only. Prove the package on its registry, or ask "
                "FairOSS staff.",
            )
        raise _fail(
            method,
            "This project has no GitHub repository URL (and no package registry names one): add "
            "it on the project's edit page, or prove a package on its registry.",
        )
    return repo, source


def _purls_naming(project: Project, repo: GitHubRepo) -> tuple[list[str], dict[str, str]]:
    """The project's packages whose registry names ``repo``: a repository proof covers those
    (so a repository cannot take a package whose registry points elsewhere)."""
    packages, problems = _packages(_supported_purls(project))
    proved = sorted(p for p, pkg in packages.items() if repo.key in pkg.repositories)
    for purl, package in packages.items():
        if purl not in proved:
            problems[purl] = f"{package.registry} does not name {repo} as its repository."
    return proved, problems


def _repo_result(method: str, project: Project, repo: GitHubRepo, **evidence: Any) -> CheckResult:
    proved, problems = _purls_naming(project, repo)
    return CheckResult(
        {
            "method": method,
            "repository": repo.key,
            **evidence,
            "purls": proved,
            "purls_not_proved": problems,
        }
    )


def _token_in_toml(text: str, token: str) -> tuple[bool, str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return False, f"faiross.toml is not valid TOML ({exc})"
    value = data.get("verification")
    values = value if isinstance(value, list) else [value]
    if token in values:
        return True, ""
    if value is None:
        return False, "faiross.toml has no 'verification' key"
    return False, "faiross.toml has a 'verification' key with another token"


def _token_in_text(text: str, token: str) -> bool:
    for line in text.splitlines():
        words = line.split("#", 1)[0].replace("=", " ").replace('"', " ").split()
        if token in words:
            return True
    return False


def check_repo_token(*, project: Project, user: User) -> CheckResult:
    """Proof (1): ``user``'s token is committed to the repository, in ``faiross.toml``
    (``verification = "<token>"``) or ``.well-known/faiross``, on the default branch, fetched
    from the host's raw-file URL."""
    method = Method.REPO_TOKEN
    repo, source = _repository_or_fail(method, project)
    token = verification_token(project=project, user=user)
    looked: list[str] = []
    for path in TOKEN_FILES:
        try:
            text = raw_file_fetch(repo=repo, path=path)
        except HostError as exc:
            raise _fail(method, f"{exc} Try again later.") from None
        if text is None:
            looked.append(f"{path} is not there")
            continue
        if path == "faiross.toml":
            found, why = _token_in_toml(text, token)
        else:
            found, why = _token_in_text(text, token), f"{path} does not contain the token"
        if found:
            return _repo_result(
                method, project, repo, file=path, token=token, repository_source=source
            )
        looked.append(why)
    raise _fail(
        method,
        f"The token was not found in {repo} (default branch): {'; '.join(looked)}. Commit it, "
        "push, and check again.",
    )


def check_github(*, project: Project, user: User) -> CheckResult:
    """Proof (2): ``user`` signed in with GitHub, and GitHub says their account has admin or
    maintain permission on the project's repository."""
    method = Method.GITHUB
    repo, source = _repository_or_fail(method, project)
    account = SocialAccount.objects.filter(user=user, provider="github").first()
    if account is None:
        raise _fail(
            method,
            "Your FairOSS account is not connected to GitHub: sign in with GitHub (account "
            "settings → connections), then check again.",
        )
    token = SocialToken.objects.filter(account=account).order_by("-pk").first()
    if token is None:
        raise _fail(
            method,
            "FairOSS has no GitHub sign-in token for your account: sign in with GitHub again, "
            "then check again.",
        )
    try:
        permissions = github_permissions(repo=repo, token=token.token)
    except HostError as exc:
        raise _fail(method, str(exc)) from None
    roles = [r for r in GITHUB_ROLES if permissions.get(r)]
    login = user_github_login(user=user) or account.uid
    if not roles:
        raise _fail(
            method,
            f"Your GitHub account {login} has no admin or maintain permission on {repo}; ask "
            "its admins, or use another method.",
        )
    return _repo_result(
        method, project, repo, github_login=login, permission=roles[0], repository_source=source
    )


def check_registry(*, project: Project, user: User) -> CheckResult:
    """Proof (3): PyPI or npm lists ``user`` (one of their verified email addresses, or their
    GitHub login) as an owner or maintainer of one of the project's packages. The proof covers
    exactly the packages that list them."""
    method = Method.REGISTRY
    purls = list(project.purls.values_list("purl", flat=True).order_by("purl"))
    supported = _supported_purls(project)
    if not supported:
        raise _fail(
            method,
            "This project lists no PyPI or npm package URL (pkg:pypi/… or pkg:npm/…) to check"
            + (f" (it lists {', '.join(purls)})." if purls else "."),
        )
    emails = _verified_emails(user)
    login = user_github_login(user=user)
    packages, problems = _packages(supported)
    proved: dict[str, dict[str, str]] = {}
    for purl, package in packages.items():
        matched_email = sorted(package.emails & emails)
        if matched_email:
            proved[purl] = {"registry": package.registry, "by": "email", "match": matched_email[0]}
        elif login and login in package.usernames:
            proved[purl] = {"registry": package.registry, "by": "github_login", "match": login}
        else:
            problems[purl] = (
                f"{package.registry} does not list your verified email addresses or your GitHub "
                f"login as a maintainer of {package.name}."
            )
    if not proved:
        raise _fail(method, " ".join(problems[p] for p in sorted(problems)))
    repositories = sorted({r for p in proved for r in packages[p].repositories})
    return CheckResult(
        {
            "method": method,
            "purls": sorted(proved),
            "matches": proved,
            "purls_not_proved": problems,
            # The repository the proved packages name (for a placeholder that has none yet).
            "repository_named": repositories[0] if len(repositories) == 1 else "",
        }
    )


CHECKS = {
    Method.REPO_TOKEN: check_repo_token,
    Method.GITHUB: check_github,
    Method.REGISTRY: check_registry,
}
