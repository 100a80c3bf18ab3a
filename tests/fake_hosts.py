"""A local HTTP server standing in for GitHub's API, GitHub's raw files, PyPI and npm (tests run
without internet). One threaded ``http.server`` serves all four under path prefixes; point the
settings at :attr:`FakeHosts.settings` and fill in what each host should know.

The answers have the shapes the real hosts give (trimmed to the fields FairOSS reads plus a
few neighbours): PyPI's JSON API ``/pypi/<name>/json`` with ``info`` and ``ownership``, npm's
package document with ``maintainers`` and ``repository``, GitHub's ``GET /repos/{o}/{r}`` with
``permissions``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

Special = Callable[[BaseHTTPRequestHandler], None]


def pypi_document(
    name: str,
    *,
    author_email: str = "",
    maintainer_email: str = "",
    owners: Sequence[str] = (),
    repository: str = "",
) -> dict[str, Any]:
    """What ``https://pypi.org/pypi/<name>/json`` answers (the parts FairOSS reads)."""
    return {
        "info": {
            "name": name,
            "version": "2.2.3",
            "summary": f"{name}: a package",
            "author": "The Authors",
            "author_email": author_email,
            "maintainer": "",
            "maintainer_email": maintainer_email,
            "home_page": "",
            "license": "BSD-3-Clause",
            "project_urls": {"Homepage": "https://example.org", "Source": repository}
            if repository
            else {"Homepage": "https://example.org"},
            "requires_python": ">=3.10",
        },
        "ownership": {
            "organization": None,
            "roles": [{"role": "Owner", "user": login} for login in owners],
        },
        "last_serial": 26512341,
        "releases": {},
        "urls": [],
        "vulnerabilities": [],
    }


def npm_document(
    name: str,
    *,
    maintainers: Sequence[tuple[str, str]] = (),
    repository: str = "",
) -> dict[str, Any]:
    """What ``https://registry.npmjs.org/<name>`` answers (the parts FairOSS reads)."""
    return {
        "_id": name,
        "name": name,
        "dist-tags": {"latest": "4.21.2"},
        "description": f"{name}: a package",
        "maintainers": [{"name": login, "email": email} for login, email in maintainers],
        "repository": {"type": "git", "url": f"git+{repository}.git"} if repository else None,
        "homepage": "https://example.org",
        "bugs": {"url": f"{repository}/issues"} if repository else None,
        "license": "MIT",
        "versions": {},
        "time": {"created": "2010-12-29T19:38:25.450Z"},
    }


@dataclass
class FakeHosts:
    """``with FakeHosts() as hosts: settings.update(hosts.settings)``."""

    raw_files: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # (owner, repo) -> {token: permissions}
    github_repos: dict[tuple[str, str], dict[str, dict[str, bool]]] = field(default_factory=dict)
    pypi: dict[str, dict[str, Any]] = field(default_factory=dict)
    npm: dict[str, dict[str, Any]] = field(default_factory=dict)
    special: dict[str, Special] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def __enter__(self) -> FakeHosts:
        hosts = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                hosts.requests.append(self.path)
                hosts._answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def settings(self) -> dict[str, str]:
        return {
            "FAIROSS_GITHUB_API_URL": f"{self.url}/github-api",
            "FAIROSS_GITHUB_RAW_URL": f"{self.url}/raw",
            "FAIROSS_PYPI_URL": f"{self.url}/pypi-host",
            "FAIROSS_NPM_URL": f"{self.url}/npm",
        }

    # --- answering ---------------------------------------------------------------------------

    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes | str | dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(body, dict):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        handler.send_response(status)
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        if path in self.special:
            self.special[path](handler)
            return
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:1] == ["raw"] and len(parts) >= 5 and parts[3] == "HEAD":
            text = self.raw_files.get((parts[1], parts[2], "/".join(parts[4:])))
            self.send(handler, 200 if text is not None else 404, text or "404: Not Found")
            return
        if parts[:2] == ["github-api", "repos"] and len(parts) == 4:
            self._github_repo(handler, parts[2], parts[3])
            return
        if parts[:2] == ["pypi-host", "pypi"] and len(parts) == 4 and parts[3] == "json":
            doc = self.pypi.get(parts[2])
            self.send(handler, 200, doc) if doc else self.send(
                handler, 404, {"message": "Not Found"}
            )
            return
        if parts[:1] == ["npm"] and len(parts) == 2:
            doc = self.npm.get(parts[1])
            self.send(handler, 200, doc) if doc else self.send(handler, 404, {"error": "Not found"})
            return
        self.send(handler, 404, "not here")

    def _github_repo(self, handler: BaseHTTPRequestHandler, owner: str, repo: str) -> None:
        grants = self.github_repos.get((owner, repo))
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token == "expired":
            self.send(handler, 401, {"message": "Bad credentials"})
            return
        if grants is None:
            self.send(handler, 404, {"message": "Not Found"})
            return
        permissions = grants.get(
            token,
            {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
        )
        self.send(
            handler,
            200,
            {
                "id": 1296269,
                "name": repo,
                "full_name": f"{owner}/{repo}",
                "private": False,
                "owner": {"login": owner, "type": "Organization"},
                "html_url": f"https://github.com/{owner}/{repo}",
                "default_branch": "main",
                "permissions": permissions,
            },
        )


# --- misbehaving answers, for the outbound client's tests ----------------------------------------


def redirect_to(location: str) -> Special:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        FakeHosts.send(handler, 302, "", {"Location": location})

    return answer


def huge_body(size: int, *, declare_length: bool) -> Special:
    """``size`` bytes, with or without a ``Content-Length`` saying so."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if declare_length:
            handler.send_header("Content-Length", str(size))
        handler.end_headers()
        handler.close_connection = True
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < size:
                handler.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    return answer


def slow(seconds: float) -> Special:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            FakeHosts.send(handler, 200, "late")

    return answer


def drip(*, every: float, count: int) -> Special:
    """A byte every ``every`` seconds: each read is quick, the whole answer is not."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(count))
        handler.end_headers()
        try:
            for _ in range(count):
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(every)
        except (BrokenPipeError, ConnectionResetError):
            pass

    return answer
