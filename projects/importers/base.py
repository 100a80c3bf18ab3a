"""Shared vocabulary of the dependency importers: results, errors, limits and purl helpers.

Everything here is pure Python (no Django, no database, no network). The importers read
untrusted uploads, so every helper either returns a well-formed value or raises
:class:`ImportFileError` with a message that names the file, the place and the rule.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from .kinds import KINDS, kind_strength

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPENDENCIES = 2000
# A flood of warnings helps nobody reading an import preview; the rest are counted.
MAX_WARNINGS = 50
# Declarations read (before de-duplication) per file: a lock file repeats names, but a file
# with more declarations than this is not a manifest anyone maintains by hand or by tool.
MAX_DECLARATIONS = 10 * MAX_DEPENDENCIES
# How many names one aggregated "skipped" warning spells out before saying "and N more".
_NAMES_PER_WARNING = 12


class ImportFileError(Exception):
    """An uploaded file that cannot be imported; ``message`` is meant for the uploader.

    ``line`` is the 1-based line the problem is on, when it is known. The message already
    names the file (and the line), so it can be shown as it is.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Dependency:
    """One package a project depends on.

    Invariants: ``purl`` is a canonical package URL without version, qualifiers or subpath
    (PyPI names PEP 503-normalised); ``ecosystem`` is the purl type; ``kind`` is one of
    :data:`KINDS`; ``name`` is the package name for display (as the file spelled it,
    with its namespace where the ecosystem has one); ``version_spec`` is the version
    constraint as the file gave it ("" when none).
    """

    purl: str
    name: str
    ecosystem: str
    kind: str
    version_spec: str


@dataclass(frozen=True)
class ImportResult:
    """What one file said: its format, the project it describes, and its dependencies.

    Invariants: ``dependencies`` has no two entries with the same purl, holds at most
    :data:`MAX_DEPENDENCIES` entries, and is in the order of first appearance in the file.
    ``warnings`` are human sentences about what was skipped or could not be known.
    """

    format: str
    project_name: str | None
    dependencies: list[Dependency] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def file_label(filename: str) -> str:
    """The name to use in messages: the base name of ``filename``, shortened if absurd."""
    base = re.split(r"[\\/]", filename or "")[-1].strip()
    base = "".join(ch if ch.isprintable() else "?" for ch in base)
    if not base:
        return "the uploaded file"
    if len(base) > 80:
        base = base[:77] + "..."
    return base


def fail(label: str, message: str, *, line: int | None = None) -> ImportFileError:
    """Build the error for ``label`` (and ``line``); the caller raises it."""
    where = f"{label} line {line}" if line is not None else label
    return ImportFileError(f"{where}: {message}", line)


def decode_text(*, label: str, content: bytes) -> str:
    """Return ``content`` as text, or raise a clear error if it is too big or not UTF-8.

    A leading UTF-8 byte order mark is dropped (editors on Windows add one).
    """
    if len(content) > MAX_FILE_BYTES:
        raise fail(
            label,
            f"the file is {len(content):,} bytes; at most {MAX_FILE_BYTES:,} bytes "
            f"({MAX_FILE_BYTES // (1024 * 1024)} MiB) can be imported",
        )
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail(label, "the file is UTF-16 text; save it as UTF-8 and upload it again")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise fail(
            label,
            f"the file is not UTF-8 text (byte 0x{content[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8 and upload it again",
            line=line,
        ) from None
    return text.removeprefix("\ufeff")


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


def load_toml(*, label: str, text: str) -> dict[str, Any]:
    """Parse ``text`` as TOML; syntax errors become :class:`ImportFileError` with a line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line = None
        if match:
            line = int(match.group(1))
            message = message[: match.start()]
        elif _TOML_END.search(message):
            line = text.count("\n") + 1
            message = _TOML_END.sub("", message) + " (at the end of the file)"
        raise fail(label, f"TOML syntax error: {message}", line=line) from None
    except ValueError as exc:
        # e.g. an integer with more digits than Python converts by default.
        raise fail(label, f"TOML value error: {exc}") from None
    except RecursionError:
        raise fail(label, "TOML nesting is too deep") from None


def load_json(*, label: str, text: str) -> Any:
    """Parse ``text`` as JSON; errors become :class:`ImportFileError` with a line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(
            label, f"JSON syntax error: {exc.msg} (column {exc.colno})", line=exc.lineno
        ) from None
    except ValueError as exc:
        raise fail(label, f"JSON value error: {exc}") from None
    except RecursionError:
        raise fail(label, "JSON nesting is too deep") from None


def line_of(text: str, needle: str) -> int | None:
    """1-based line of the first occurrence of ``needle`` in ``text``, if any.

    TOML and JSON parsers do not report where a value came from; this finds a quoted
    value again so an error about it can point at a line. Best effort only.
    """
    if not needle:
        return None
    index = text.find(needle)
    if index < 0:
        return None
    return text.count("\n", 0, index) + 1


# Checked in order: a bool is an int to Python, but not to the person reading the message.
_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a table/object"),
)


def describe_type(value: object) -> str:
    """A short, user-facing name of a parsed value's type."""
    if value is None:
        return "null"
    for types, name in _TYPE_NAMES:
        if isinstance(value, types):
            return name
    return type(value).__name__


def toml_table(collector: Collector, value: object, where: str) -> dict[str, Any]:
    """``value`` when it is a table; otherwise the error naming ``where`` (e.g. ``[package]``)."""
    if not isinstance(value, dict):
        raise fail(collector.label, f"{where} must be a table, not {describe_type(value)}")
    return value


# --- package URLs -------------------------------------------------------------------------

_PEP508_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9_~][a-z0-9._~-]*$", re.IGNORECASE)
_CRATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def is_pypi_name(name: str) -> bool:
    """True when ``name`` is a valid Python distribution name (PEP 508)."""
    return bool(_PEP508_NAME.fullmatch(name)) and len(name) <= 200


def is_npm_name(name: str) -> bool:
    """True when ``name`` is a plausible npm package name (``@scope/name`` or ``name``)."""
    return len(name) <= 214 and bool(_NPM_NAME.fullmatch(name))


def is_crate_name(name: str) -> bool:
    """True when ``name`` is a valid crates.io crate name."""
    return bool(_CRATE_NAME.fullmatch(name))


def pypi_purl(name: str) -> str:
    """``pkg:pypi/<PEP 503 name>``. Precondition: :func:`is_pypi_name` holds."""
    return PackageURL(type="pypi", name=canonicalize_name(name)).to_string()


def npm_purl(name: str) -> str:
    """``pkg:npm/<name>`` or ``pkg:npm/%40scope/<name>``. Precondition: :func:`is_npm_name`."""
    if name.startswith("@"):
        scope, _, bare = name.partition("/")
        return PackageURL(type="npm", namespace=scope, name=bare).to_string()
    return PackageURL(type="npm", name=name).to_string()


def cargo_purl(name: str) -> str:
    """``pkg:cargo/<name>``, the crate name kept as written."""
    return PackageURL(type="cargo", name=name).to_string()


def normalize_purl(value: str) -> tuple[str, str, str]:
    """Canonical ``(purl, display name, ecosystem)`` of a package URL string.

    The version, qualifiers and subpath are dropped: FairOSS pays a package, not a
    release. PyPI names are PEP 503-normalised. Raises ``ValueError`` when ``value`` is
    not a package URL (packageurl-python raises nothing else for string input).
    """
    if len(value) > 1000:
        raise ValueError("package URL is too long")
    parsed = PackageURL.from_string(value)
    if not parsed.type or not parsed.name:
        raise ValueError("package URL needs a type and a name")
    ptype = parsed.type.lower()
    name = parsed.name
    namespace = parsed.namespace or None
    if ptype == "pypi":
        name = canonicalize_name(name)
    purl = PackageURL(type=ptype, namespace=namespace, name=name).to_string()
    return purl, display_name(ptype, namespace, parsed.name), ptype


def display_name(ptype: str, namespace: str | None, name: str) -> str:
    """How people write a package's name in its ecosystem (``group:artifact`` for Maven)."""
    if not namespace:
        return name
    if ptype == "maven":
        return f"{namespace}:{name}"
    return f"{namespace}/{name}"


def generic_purl(*, group: str | None, name: str) -> str:
    """``pkg:generic/...`` for a component an SBOM names without a package URL."""
    return PackageURL(type="generic", namespace=group or None, name=name).to_string()


# --- collecting dependencies --------------------------------------------------------------


class Collector:
    """Accumulates dependencies while a file is read, then builds the :class:`ImportResult`.

    Invariants kept while adding: one entry per purl, in order of first appearance; when a
    purl comes again with a stronger kind, the stronger occurrence's kind, name and
    version spec replace the earlier ones (the position stays); never more than
    :data:`MAX_DEPENDENCIES` entries (one more raises :class:`ImportFileError`).
    """

    def __init__(self, *, label: str, fmt: str) -> None:
        self.label = label
        self.fmt = fmt
        self.project_name: str | None = None
        # Purls of the project itself: a project is not its own dependency.
        self.self_purls: set[str] = set()
        self._deps: dict[str, Dependency] = {}
        self._warnings: list[str] = []
        self._skipped: dict[str, list[str]] = {}
        self._declarations = 0

    def count_declaration(self) -> None:
        """Count one declaration about to be parsed; too many raise :class:`ImportFileError`.

        Called before the expensive parsing of a declaration, so that the work per upload
        stays bounded even when most declarations repeat the same few packages.
        """
        self._declarations += 1
        if self._declarations > MAX_DECLARATIONS:
            raise fail(
                self.label,
                f"the file has more than {MAX_DECLARATIONS:,} dependency declarations; at most "
                f"{MAX_DECLARATIONS:,} are read",
            )

    def add(self, *, purl: str, name: str, ecosystem: str, kind: str, version_spec: str) -> None:
        """Record one occurrence of a dependency (see the class invariants)."""
        if kind not in KINDS:
            raise ValueError(f"unknown dependency kind {kind!r}")
        new = Dependency(
            purl=purl, name=name, ecosystem=ecosystem, kind=kind, version_spec=version_spec
        )
        old = self._deps.get(purl)
        if old is None:
            if len(self._deps) >= MAX_DEPENDENCIES:
                raise fail(
                    self.label,
                    f"the file lists more than {MAX_DEPENDENCIES:,} dependencies; "
                    f"at most {MAX_DEPENDENCIES:,} can be imported at once",
                )
            self._deps[purl] = new
        elif kind_strength(kind) > kind_strength(old.kind):
            self._deps[purl] = new

    def warn(self, message: str) -> None:
        """Add one warning sentence (kept in order, capped at :data:`MAX_WARNINGS`)."""
        self._warnings.append(message)

    def skip(self, *, reason: str, name: str) -> None:
        """Note that ``name`` was not imported for ``reason``; reported as one warning."""
        names = self._skipped.setdefault(reason, [])
        if name not in names:
            names.append(name)

    def result(self) -> ImportResult:
        """The finished result; self-references are dropped here with a warning."""
        deps = []
        for dep in self._deps.values():
            if dep.purl in self.self_purls:
                self.skip(
                    reason="skipped the project itself (a project is not its own dependency)",
                    name=dep.name,
                )
                continue
            deps.append(dep)
        warnings = list(self._warnings)
        for reason, names in self._skipped.items():
            shown = ", ".join(names[:_NAMES_PER_WARNING])
            more = len(names) - _NAMES_PER_WARNING
            suffix = f" and {more} more" if more > 0 else ""
            warnings.append(f"{self.label}: {reason}: {shown}{suffix}")
        if len(warnings) > MAX_WARNINGS:
            extra = len(warnings) - (MAX_WARNINGS - 1)
            warnings = [*warnings[: MAX_WARNINGS - 1], f"... and {extra} more warnings"]
        if not deps:
            warnings.append(f"{self.label}: no dependencies were found in this file")
        return ImportResult(
            format=self.fmt, project_name=self.project_name, dependencies=deps, warnings=warnings
        )
