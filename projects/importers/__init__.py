"""Dependency and funding-file importers: pure functions from uploaded bytes to plain data.

Public API (all keyword-only):

- :func:`parse_dependency_file` ``(filename, content) -> ImportResult``
- :func:`split_dependency_share` ``(total_millibips, dependencies, policy) -> list[int]``
- :func:`dependency_rows_fit` ``(total_millibips, weights, limit) -> (kept, parts)``
- :func:`parse_funding_file` ``(filename, content) -> FundingInfo``

Bad input of any kind raises :class:`ImportFileError` and nothing else: callers show its
``message`` to the uploader. There is no Django, database or network access here.
"""

from __future__ import annotations

import re

from .base import (
    MAX_DEPENDENCIES,
    MAX_FILE_BYTES,
    Dependency,
    ImportFileError,
    ImportResult,
    decode_text,
    fail,
    file_label,
    load_json,
)
from .cargo import FORMAT_CARGO, parse_cargo_toml
from .funding import FundingInfo, parse_funding_file
from .kinds import KINDS
from .npm import FORMAT_PACKAGE_JSON, parse_package_json
from .python import (
    FORMAT_PYPROJECT,
    FORMAT_REQUIREMENTS,
    FORMAT_SETUP_PY,
    parse_pyproject,
    parse_requirements,
    parse_setup_py,
)
from .sbom import FORMAT_CYCLONEDX, FORMAT_SPDX, is_cyclonedx, is_spdx, parse_cyclonedx, parse_spdx
from .shares import SHARE_POLICIES, dependency_rows_fit, split_dependency_share

__all__ = [
    "FORMATS",
    "KINDS",
    "MAX_DEPENDENCIES",
    "MAX_FILE_BYTES",
    "SHARE_POLICIES",
    "SUPPORTED_FILES",
    "Dependency",
    "FundingInfo",
    "ImportFileError",
    "ImportResult",
    "dependency_rows_fit",
    "parse_dependency_file",
    "parse_funding_file",
    "split_dependency_share",
]

FORMATS = (
    FORMAT_PYPROJECT,
    FORMAT_SETUP_PY,
    FORMAT_REQUIREMENTS,
    FORMAT_PACKAGE_JSON,
    FORMAT_CARGO,
    FORMAT_CYCLONEDX,
    FORMAT_SPDX,
)
SUPPORTED_FILES = (
    "pyproject.toml, setup.py, requirements files (*.txt, *.in), package.json, Cargo.toml, "
    "CycloneDX JSON and SPDX JSON"
)

_FUNDING_NAMES = re.compile(r"^(funding\.json|funding\.ya?ml)$", re.IGNORECASE)


def _sniff_toml(text: str) -> str | None:
    """Guess pyproject vs Cargo.toml for a ``.toml`` file with another name."""
    headers = set(re.findall(r"(?m)^[ \t]*\[+[ \t]*([A-Za-z0-9_.\"'-]+)", text))
    if headers & {"package", "workspace", "dependencies", "dev-dependencies"} or any(
        h.startswith(("target.", "workspace.", "package.")) for h in headers
    ):
        return FORMAT_CARGO
    if headers & {"project", "build-system", "dependency-groups"} or any(
        h.startswith(("project.", "tool.")) for h in headers
    ):
        return FORMAT_PYPROJECT
    return None


def parse_dependency_file(*, filename: str, content: bytes) -> ImportResult:
    """Read the dependencies a manifest or SBOM declares.

    Preconditions: ``filename`` is the uploaded file's name (only its base name is used,
    in messages and to pick the format); ``content`` is its bytes.
    The format comes from the name (``pyproject.toml``, ``setup.py``, ``package.json``,
    ``Cargo.toml``, ``*.txt``/``*.in`` requirements) and, for JSON and unknown names,
    from the content (CycloneDX ``bomFormat``, SPDX ``spdxVersion`` or JSON-LD
    ``@graph``, a package.json shape).
    Invariants: the result obeys :class:`ImportResult`'s invariants. Any problem with the
    bytes (too big, not UTF-8, syntax, wrong types, unknown format, too many
    dependencies) raises :class:`ImportFileError`; no other exception escapes for any
    ``bytes`` value.
    """
    if not isinstance(content, bytes | bytearray):
        raise TypeError("content must be bytes")
    label = file_label(filename)
    text = decode_text(label=label, content=bytes(content))
    name = label.lower()

    if name.endswith("pyproject.toml"):
        return parse_pyproject(label=label, text=text)
    if name.endswith("cargo.toml"):
        return parse_cargo_toml(label=label, text=text)
    if name.endswith("setup.py"):
        return parse_setup_py(label=label, text=text)
    if name.endswith((".txt", ".in")):
        return parse_requirements(label=label, text=text)
    if name.endswith(".toml"):
        sniffed = _sniff_toml(text)
        if sniffed == FORMAT_CARGO:
            return parse_cargo_toml(label=label, text=text)
        if sniffed == FORMAT_PYPROJECT:
            return parse_pyproject(label=label, text=text)
        raise fail(
            label,
            "this TOML file is neither a pyproject.toml nor a Cargo.toml "
            f"(supported: {SUPPORTED_FILES})",
        )
    if name.endswith("package.json"):
        return parse_package_json(label=label, text=text)
    if name.endswith((".json", ".json.bin", ".jsonld")) or text.lstrip().startswith("{"):
        return _parse_json_by_content(label=label, name=name, text=text)
    raise fail(label, f"unsupported file type; FairOSS can import {SUPPORTED_FILES}")


def _parse_json_by_content(*, label: str, name: str, text: str) -> ImportResult:
    data = load_json(label=label, text=text)
    if is_cyclonedx(data):
        assert isinstance(data, dict)
        return parse_cyclonedx(label=label, data=data)
    if is_spdx(data):
        assert isinstance(data, dict)
        return parse_spdx(label=label, data=data)
    if isinstance(data, dict) and any(
        isinstance(data.get(key), dict)
        for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")
    ):
        return parse_package_json(label=label, text=text)
    if _FUNDING_NAMES.match(name) or (
        isinstance(data, dict) and ("drips" in data or "entity" in data)
    ):
        raise fail(
            label,
            "this is a funding file, not a dependency list; import it as funding information",
        )
    raise fail(
        label,
        "this JSON file is not a format FairOSS reads: expected a CycloneDX BOM "
        '("bomFormat": "CycloneDX"), an SPDX document ("spdxVersion" or an SPDX '
        f"@graph) or a package.json (supported: {SUPPORTED_FILES})",
    )
