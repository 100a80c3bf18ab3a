"""Python manifests: ``pyproject.toml``, ``setup.py`` (read, never run) and requirements files."""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from .base import (
    Collector,
    ImportResult,
    describe_type,
    fail,
    is_pypi_name,
    line_of,
    load_toml,
    pypi_purl,
    toml_table,
)
from .kinds import KIND_BUILD, KIND_DEV, KIND_OPTIONAL, KIND_RUNTIME

FORMAT_PYPROJECT = "pyproject"
FORMAT_SETUP_PY = "setup-py"
FORMAT_REQUIREMENTS = "requirements"

_SKIP_LOCAL = "skipped local paths (they are not published packages)"
_SKIP_URL = "skipped URLs that do not name a package"
_SKIP_EDITABLE = "skipped editable installs (-e), which point at a checkout, not a package"
_DIRECT_URL = "recorded by name although installed from a direct URL"


def _first_line(message: str) -> str:
    return str(message).strip().splitlines()[0] if str(message).strip() else "invalid"


_SPEC_TEXT = re.compile(r"^\s*[A-Za-z0-9._-]+\s*(?:\[[^\]]*\])?\s*\(?(?P<spec>[^;@()]*)")


def _version_spec(text: str, req: Requirement) -> str:
    """The version constraint as the file wrote it (packaging would re-order it).

    Falls back to packaging's rendering when the written text does not read back as the
    same specifier set, so the result is always a valid PEP 440 specifier set.
    """
    match = _SPEC_TEXT.match(text)
    if match:
        written = re.sub(r"\s+", "", match.group("spec"))
        try:
            if SpecifierSet(written) == req.specifier:
                return written
        except InvalidSpecifier:
            pass
    return str(req.specifier)


@functools.lru_cache(maxsize=4096)
def _parse_requirement(text: str) -> Requirement:
    # Lock files repeat the same lines; parsing is the slow part, so parse each text once.
    return Requirement(text)


def _add_requirement(
    collector: Collector,
    *,
    text: str,
    kind: str,
    where: str,
    line: int | None,
) -> None:
    """Parse one PEP 508 string and record it; a malformed one fails the whole import."""
    collector.count_declaration()
    try:
        req = _parse_requirement(text)
    except InvalidRequirement as exc:
        raise fail(
            collector.label,
            f"{where}: {text!r} is not a valid requirement ({_first_line(str(exc))})",
            line=line,
        ) from None
    if req.url is not None:
        if req.url.startswith("file:"):
            collector.skip(reason=_SKIP_LOCAL, name=req.name)
            return
        collector.skip(reason=_DIRECT_URL, name=req.name)
    collector.add(
        purl=pypi_purl(req.name),
        name=req.name,
        ecosystem="pypi",
        kind=kind,
        version_spec=_version_spec(text, req),
    )


# --- pyproject.toml -------------------------------------------------------------------------


def _string_list(collector: Collector, value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(collector.label, f"{where} must be a list of requirement strings")
    return value


def _requirements(
    collector: Collector, text: str, items: list[str], *, kind: str, where: str
) -> None:
    for index, item in enumerate(items):
        _quoted_requirement(collector, text, item, kind=kind, where=f"{where}[{index}]")


def _quoted_requirement(
    collector: Collector, text: str, item: str, *, kind: str, where: str
) -> None:
    """One requirement string of a TOML list, its line found by the quotes around it."""
    _add_requirement(
        collector,
        text=item,
        kind=kind,
        where=where,
        line=line_of(text, f'"{item}"') or line_of(text, f"'{item}'"),
    )


def _dependency_groups(collector: Collector, text: str, groups: dict[str, Any]) -> None:
    """PEP 735 groups: every group is imported as dev; includes are checked, not re-added.

    Because every group is imported anyway, an ``include-group`` adds nothing new; it is
    still resolved so that a reference to a missing group or a cycle is reported.
    """
    normalized: dict[str, str] = {canonicalize_name(name): name for name in groups}
    for name, items in groups.items():
        where = f"[dependency-groups].{name}"
        if not isinstance(items, list):
            raise fail(collector.label, f"{where} must be a list, not {describe_type(items)}")
        for index, item in enumerate(items):
            if isinstance(item, str):
                _quoted_requirement(collector, text, item, kind=KIND_DEV, where=f"{where}[{index}]")
            elif isinstance(item, dict) and set(item) == {"include-group"}:
                target = item["include-group"]
                if not isinstance(target, str):
                    raise fail(collector.label, f"{where}[{index}]: include-group must be a string")
                if canonicalize_name(target) not in normalized:
                    collector.warn(
                        f"{collector.label}: {where} includes group '{target}', "
                        "which the file does not define"
                    )
            else:
                raise fail(
                    collector.label,
                    f"{where}[{index}] must be a requirement string or "
                    '{ include-group = "name" }',
                )
    _check_group_cycles(collector, groups, normalized)


def _check_group_cycles(
    collector: Collector, groups: dict[str, Any], normalized: dict[str, str]
) -> None:
    includes: dict[str, list[str]] = {}
    for name, items in groups.items():
        targets = [
            canonicalize_name(item["include-group"])
            for item in items
            if isinstance(item, dict) and isinstance(item.get("include-group"), str)
        ]
        includes[canonicalize_name(name)] = [t for t in targets if t in normalized]
    # Iterative three-colour DFS: deep include chains must not hit the recursion limit.
    state: dict[str, int] = {}
    for start in includes:
        if state.get(start):
            continue
        stack = [(start, iter(includes[start]))]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                collector.warn(
                    f"{collector.label}: [dependency-groups] include each other in a cycle "
                    f"(through '{normalized[child]}'); tools will refuse these groups"
                )
                return
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(includes[child])))


def _poetry_dependencies(
    collector: Collector, table: dict[str, Any], *, kind: str, where: str
) -> None:
    """Poetry's ``name = "constraint"`` / ``{ version, optional, path, git, ... }`` entries."""
    for name, spec in table.items():
        if canonicalize_name(name) == "python":
            continue  # the interpreter constraint, not a package
        if not is_pypi_name(name):
            raise fail(collector.label, f"{where}: {name!r} is not a valid package name")
        variants = spec if isinstance(spec, list) else [spec]
        versions: list[str] = []
        local = True
        optional = True
        for variant in variants:
            if isinstance(variant, str):
                versions.append(variant)
                local = False
                optional = False
            elif isinstance(variant, dict):
                version = variant.get("version", "")
                if not isinstance(version, str):
                    raise fail(collector.label, f"{where}.{name}.version must be a string")
                if version:
                    versions.append(version)
                if "path" not in variant:
                    local = False
                if variant.get("optional") is not True:
                    optional = False
            else:
                raise fail(
                    collector.label,
                    f"{where}.{name} must be a version string or a table, "
                    f"not {describe_type(variant)}",
                )
        if local:
            collector.skip(reason=_SKIP_LOCAL, name=name)
            continue
        spec_text = " || ".join(v for v in versions if v.strip() != "*")
        collector.add(
            purl=pypi_purl(name),
            name=name,
            ecosystem="pypi",
            kind=KIND_OPTIONAL if optional and kind == KIND_RUNTIME else kind,
            version_spec=spec_text,
        )


def _pep621(collector: Collector, text: str, project: dict[str, Any]) -> None:
    for key, value in project.items():
        if key == "dependencies":
            deps = _string_list(collector, value, "[project].dependencies")
            _requirements(collector, text, deps, kind=KIND_RUNTIME, where="[project].dependencies")
        elif key == "optional-dependencies":
            extras = toml_table(collector, value, "[project.optional-dependencies]")
            for extra, items in extras.items():
                where = f"[project.optional-dependencies].{extra}"
                deps = _string_list(collector, items, where)
                _requirements(collector, text, deps, kind=KIND_OPTIONAL, where=where)


def _poetry(collector: Collector, poetry: dict[str, Any]) -> None:
    for key, value in poetry.items():
        if key == "dependencies":
            table = toml_table(collector, value, "[tool.poetry.dependencies]")
            _poetry_dependencies(
                collector, table, kind=KIND_RUNTIME, where="[tool.poetry.dependencies]"
            )
        elif key == "dev-dependencies":
            table = toml_table(collector, value, "[tool.poetry.dev-dependencies]")
            _poetry_dependencies(
                collector, table, kind=KIND_DEV, where="[tool.poetry.dev-dependencies]"
            )
        elif key == "group":
            for group_name, group in toml_table(collector, value, "[tool.poetry.group]").items():
                where = f"[tool.poetry.group.{group_name}]"
                group_table = toml_table(collector, group, where)
                if "dependencies" in group_table:
                    deps_table = toml_table(
                        collector, group_table["dependencies"], f"{where}.dependencies"
                    )
                    # Poetry's "main" group is the runtime one; other groups are for developers.
                    kind = KIND_RUNTIME if group_name == "main" else KIND_DEV
                    _poetry_dependencies(
                        collector, deps_table, kind=kind, where=f"{where}.dependencies"
                    )


def parse_pyproject(*, label: str, text: str) -> ImportResult:
    """Read a ``pyproject.toml``: PEP 621, PEP 735 groups, Poetry tables and build requires.

    Kinds: ``[project].dependencies`` runtime; ``optional-dependencies`` optional;
    ``[dependency-groups]`` dev; ``[build-system].requires`` build; Poetry main
    dependencies runtime (``optional = true`` ones optional), Poetry groups and
    ``dev-dependencies`` dev. Environment markers are kept out of ``version_spec``.
    """
    collector = Collector(label=label, fmt=FORMAT_PYPROJECT)
    data = load_toml(label=label, text=text)

    project = toml_table(collector, data.get("project", {}), "[project]")
    tool = toml_table(collector, data.get("tool", {}), "[tool]")
    poetry = toml_table(collector, tool.get("poetry", {}), "[tool.poetry]")

    name = project.get("name")
    if not isinstance(name, str):
        name = poetry.get("name")
    if isinstance(name, str) and name.strip():
        collector.project_name = name.strip()
        if is_pypi_name(name.strip()):
            collector.self_purls.add(pypi_purl(name.strip()))

    dynamic = project.get("dynamic", [])
    if isinstance(dynamic, list) and "dependencies" in dynamic:
        collector.warn(
            f"{label}: [project].dependencies are dynamic (computed by the build backend, "
            "e.g. from setup.py or a requirements file); upload that file to import them"
        )
    # Sections are read in the file's order so that dependencies keep the order in which
    # a reader of the file first meets them.
    for section in data:
        if section == "project":
            _pep621(collector, text, project)
        elif section == "dependency-groups":
            groups = toml_table(collector, data["dependency-groups"], "[dependency-groups]")
            _dependency_groups(collector, text, groups)
        elif section == "tool":
            _poetry(collector, poetry)
        elif section == "build-system":
            build = toml_table(collector, data["build-system"], "[build-system]")
            if "requires" in build:
                deps = _string_list(collector, build["requires"], "[build-system].requires")
                _requirements(
                    collector, text, deps, kind=KIND_BUILD, where="[build-system].requires"
                )
    return collector.result()


# --- setup.py -------------------------------------------------------------------------------

# Parsing Python is slow enough that a 2 MiB upload would tie up a worker for seconds.
MAX_SETUP_PY_CHARS = 256 * 1024

# setup() keywords that hold requirements, and the kind each one means.
_SETUP_KEYWORDS = {
    "install_requires": KIND_RUNTIME,
    "setup_requires": KIND_BUILD,
    "tests_require": KIND_DEV,
    "extras_require": KIND_OPTIONAL,
}


def _is_setup_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "setup") or (
        isinstance(func, ast.Attribute) and func.attr == "setup"
    )


def _literal(node: ast.AST, assignments: dict[str, ast.AST]) -> object:
    """The value of ``node`` if it is a literal (or a module-level name bound to one).

    Returns ``None`` when the value is computed at run time. ``ast.literal_eval`` never
    executes code, which is the whole point: a setup.py is untrusted.
    """
    if isinstance(node, ast.Name) and node.id in assignments:
        node = assignments[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _requirement_lines(value: object) -> list[str] | None:
    """setuptools accepts a list of strings or one string with a requirement per line."""
    if isinstance(value, str):
        value = value.splitlines()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [line.split("#", 1)[0].strip() for line in value if line.split("#", 1)[0].strip()]
    return None


def parse_setup_py(*, label: str, text: str) -> ImportResult:
    """Best-effort reading of ``setup(...)`` keyword literals with :mod:`ast`; never executes.

    Reads ``name``, ``install_requires`` (runtime), ``extras_require`` (optional),
    ``setup_requires`` (build) and ``tests_require`` (dev) when they are literals, or names
    bound to literals at module level. Anything computed is reported as a warning.
    """
    collector = Collector(label=label, fmt=FORMAT_SETUP_PY)
    if len(text) > MAX_SETUP_PY_CHARS:
        raise fail(
            label,
            f"setup.py has {len(text):,} characters; at most {MAX_SETUP_PY_CHARS:,} are read "
            "(a real setup.py is far smaller)",
        )
    try:
        tree = ast.parse(text, filename=label)
    except SyntaxError as exc:
        raise fail(label, f"Python syntax error: {exc.msg}", line=exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise fail(
            label, f"cannot be read as Python: {_first_line(str(exc)) or 'too complex'}"
        ) from None

    assignments: dict[str, ast.AST] = {}
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        ):
            assignments[statement.targets[0].id] = statement.value

    calls = [node for node in ast.walk(tree) if _is_setup_call(node)]
    if not calls:
        collector.warn(f"{label}: no setup() call was found")
        return collector.result()

    found_keyword = False
    for call in calls:
        assert isinstance(call, ast.Call)
        for keyword in call.keywords:
            if keyword.arg == "name":
                value = _literal(keyword.value, assignments)
                if isinstance(value, str) and value.strip():
                    collector.project_name = value.strip()
                    if is_pypi_name(value.strip()):
                        collector.self_purls.add(pypi_purl(value.strip()))
            if keyword.arg not in _SETUP_KEYWORDS:
                continue
            found_keyword = True
            kind = _SETUP_KEYWORDS[keyword.arg]
            value = _literal(keyword.value, assignments)
            line = getattr(keyword.value, "lineno", None)
            if keyword.arg == "extras_require":
                if not isinstance(value, dict):
                    collector.warn(
                        f"{label} line {line}: extras_require is computed when setup.py runs; "
                        "FairOSS does not run setup.py, so it was not read"
                    )
                    continue
                for extra, items in value.items():
                    lines = _requirement_lines(items)
                    if lines is None:
                        collector.warn(f"{label} line {line}: extras_require[{extra!r}] skipped")
                        continue
                    for item in lines:
                        _add_requirement(
                            collector, text=item, kind=kind, where="extras_require", line=line
                        )
                continue
            lines = _requirement_lines(value)
            if lines is None:
                collector.warn(
                    f"{label} line {line}: {keyword.arg} is computed when setup.py runs; "
                    "FairOSS does not run setup.py, so it was not read"
                )
                continue
            for item in lines:
                _add_requirement(collector, text=item, kind=kind, where=keyword.arg, line=line)
    if not found_keyword:
        collector.warn(
            f"{label}: setup() declares no dependencies; they are probably in pyproject.toml "
            "or setup.cfg"
        )
    return collector.result()


# --- requirements files -----------------------------------------------------------------------

# Per-requirement options (--hash=..., --config-settings ...) start at " -" followed by a letter.
# (One whitespace character, no quantifier: a regex like r"\s+-" backtracks quadratically
# on a long run of spaces, and the input is untrusted.)
_OPTION_START = re.compile(r"\s--?[A-Za-z]")
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|(?:git|hg|svn|bzr)\+)")
_NAMED_URL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\]\s*)?@")
_ARCHIVE = re.compile(r"\.(?:whl|zip|tar\.gz|tgz|tar\.bz2|tar\.xz|tar)$", re.IGNORECASE)
_INCLUDE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")
_EDITABLE_OPTIONS = ("-e", "--editable")
# Global options that change how pip installs, not what: nothing to import, nothing to say.
_QUIET_OPTIONS = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--pre",
    "--trusted-host",
    "--prefer-binary",
    "--require-hashes",
    "--only-binary",
    "--no-binary",
    "--use-feature",
    "--hash",
    "--config-settings",
    "--global-option",
)
_DEV_WORDS = {
    "dev",
    "develop",
    "development",
    "test",
    "tests",
    "testing",
    "docs",
    "doc",
    "lint",
    "linting",
    "typing",
    "ci",
    "check",
    "style",
    "mypy",
    "coverage",
}
_BUILD_WORDS = {"build", "setup", "wheel", "wheels"}


def requirements_kind(label: str) -> str:
    """The kind a requirements file's name suggests: ``requirements-dev.txt`` is dev.

    Words are split on anything that is not a letter or digit; "build" words give build,
    development/test/docs/lint words give dev, anything else runtime.
    """
    words = set(re.split(r"[^a-z0-9]+", label.lower()))
    if words & _BUILD_WORDS:
        return KIND_BUILD
    if words & _DEV_WORDS:
        return KIND_DEV
    return KIND_RUNTIME


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments, as pip does; keep first line numbers.

    Blank and comment-only lines outside a continuation are dropped here already, which
    keeps a file of two million empty lines cheap.
    """
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.lstrip()
        is_comment = stripped.startswith("#")
        if not pending and (is_comment or not stripped):
            continue
        if raw.endswith("\\") and not is_comment:
            if not pending:
                start = number
            pending.append(raw[:-1])
            continue
        if is_comment:
            # pip keeps a comment inside a continuation so it is stripped with the rest.
            raw = " " + raw
        if pending:
            pending.append(raw)
            joined.append((start, "".join(pending)))
            pending = []
        else:
            joined.append((number, raw))
    if pending:
        joined.append((start, "".join(pending)))
    return [(number, _strip_comment(line).strip()) for number, line in joined]


def _strip_comment(line: str) -> str:
    """pip's rule: "#" starts a comment at the start of a line or after whitespace."""
    index = line.find("#")
    while index >= 0:
        if index == 0 or line[index - 1].isspace():
            return line[:index]
        index = line.find("#", index + 1)
    return line


def _option_value(line: str, option: str) -> str:
    rest = line[len(option) :]
    return rest.lstrip(" =\t").strip()


def parse_requirements(*, label: str, text: str) -> ImportResult:
    """Read a pip requirements file (``requirements*.txt``, ``*.in``).

    The kind of every entry comes from the file name (see :func:`requirements_kind`).
    ``-r``/``-c`` includes are reported (the other file was not uploaded); editable
    installs, bare URLs and local paths are skipped with a warning; ``--hash`` and other
    per-requirement options are ignored. A line that is none of these and not a valid
    PEP 508 requirement fails the import with its line number.
    """
    collector = Collector(label=label, fmt=FORMAT_REQUIREMENTS)
    kind = requirements_kind(label)
    for number, line in _logical_lines(text):
        if not line:
            continue
        if line.startswith("-"):
            option = re.split(r"[\s=]", line, maxsplit=1)[0]
            value = _option_value(line, option)
            if option in _INCLUDE_OPTIONS:
                what = "requirements" if option in ("-r", "--requirement") else "constraints"
                collector.warn(
                    f"{label} line {number}: '{option} {value}' refers to another "
                    f"{what} file, which was not uploaded; upload it too to import "
                    "what it lists"
                )
            elif option in _EDITABLE_OPTIONS:
                collector.skip(reason=_SKIP_EDITABLE, name=value or line)
            elif option not in _QUIET_OPTIONS:
                collector.warn(f"{label} line {number}: ignored pip option '{option}'")
            continue
        option_at = _OPTION_START.search(line)
        requirement = (line[: option_at.start()] if option_at else line).strip()
        if _NAMED_URL.match(requirement):
            # "name @ url" names its package; _add_requirement decides about the URL.
            _add_requirement(
                collector, text=requirement, kind=kind, where="requirement", line=number
            )
            continue
        if _URL.match(requirement):
            collector.skip(reason=_SKIP_URL, name=requirement)
            continue
        if (
            requirement.startswith((".", "/", "~", "\\"))
            or re.match(r"^[A-Za-z]:[\\/]", requirement)
            or _ARCHIVE.search(requirement.split(";", 1)[0].strip())
        ):
            collector.skip(reason=_SKIP_LOCAL, name=requirement)
            continue
        _add_requirement(collector, text=requirement, kind=kind, where="requirement", line=number)
    return collector.result()
