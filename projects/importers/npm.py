"""npm's ``package.json``."""

from __future__ import annotations

from .base import (
    Collector,
    ImportFileError,
    ImportResult,
    describe_type,
    fail,
    is_npm_name,
    line_of,
    load_json,
    npm_purl,
)
from .kinds import KIND_DEV, KIND_OPTIONAL, KIND_PEER, KIND_RUNTIME

FORMAT_PACKAGE_JSON = "package-json"

# Each dependency section and the kind it means; sections are read in the file's order.
SECTIONS = {
    "dependencies": KIND_RUNTIME,
    "devDependencies": KIND_DEV,
    "peerDependencies": KIND_PEER,
    "optionalDependencies": KIND_OPTIONAL,
}
# Specs that point into the same repository or disk: there is no package to pay.
_LOCAL_PROTOCOLS = ("workspace:", "file:", "link:", "portal:")
_SKIP_LOCAL = "skipped workspace and local packages (workspace:, file:, link:, portal:)"
_SKIP_BAD_NAME = "skipped entries whose names are not valid npm package names"


def _alias_target(spec: str) -> tuple[str, str] | None:
    """``npm:real-name@range`` installs ``real-name``; return ``(real-name, range)``."""
    target = spec[len("npm:") :]
    # The version separator is the last "@" that is not the scope's leading "@".
    at = target.rfind("@")
    if at > 0:
        return target[:at], target[at + 1 :]
    return (target, "") if target else None


def _not_a(
    label: str, text: str, *, where: str, what: str, value: object, key: str
) -> ImportFileError:
    """The error for ``where`` holding ``value`` instead of ``what``, at the line of ``key``."""
    return fail(
        label,
        f"{where} must be {what}, not {describe_type(value)}",
        line=line_of(text, f'"{key}"'),
    )


def parse_package_json(*, label: str, text: str) -> ImportResult:
    """Read a ``package.json``.

    Kinds: ``dependencies`` runtime, ``devDependencies`` dev, ``peerDependencies`` peer
    (but optional when ``peerDependenciesMeta`` marks the peer optional: nothing installs
    it for you), ``optionalDependencies`` optional. ``npm:`` aliases count as the real
    package. Local specs (``workspace:``, ``file:``, ``link:``, ``portal:``) are skipped
    with a warning. Keys starting with ``//`` are comments by npm convention.
    """
    collector = Collector(label=label, fmt=FORMAT_PACKAGE_JSON)
    data = load_json(label=label, text=text)
    if not isinstance(data, dict):
        raise fail(label, f"package.json must contain a JSON object, not {describe_type(data)}")

    name = data.get("name")
    if isinstance(name, str) and name.strip():
        collector.project_name = name.strip()
        if is_npm_name(name.strip()):
            collector.self_purls.add(npm_purl(name.strip()))

    meta = data.get("peerDependenciesMeta", {})
    if not isinstance(meta, dict):
        raise fail(label, "'peerDependenciesMeta' must be an object")
    optional_peers = {
        peer
        for peer, info in meta.items()
        if isinstance(info, dict) and info.get("optional") is True
    }

    for section, table in data.items():
        kind = SECTIONS.get(section)
        if kind is None:
            continue
        if not isinstance(table, dict):
            raise _not_a(
                label,
                text,
                where=f"'{section}'",
                what="an object mapping package names to version ranges",
                value=table,
                key=section,
            )
        for package, spec in table.items():
            if package.startswith("//"):
                continue
            if not isinstance(spec, str):
                where = f"'{section}'.'{package}'"
                raise _not_a(
                    label, text, where=where, what="a version range string", value=spec, key=package
                )
            spec = spec.strip()
            if spec.startswith(_LOCAL_PROTOCOLS):
                collector.skip(reason=_SKIP_LOCAL, name=package)
                continue
            real = package
            if spec.startswith("npm:"):
                alias = _alias_target(spec)
                if alias is not None:
                    real, spec = alias
            if not is_npm_name(real):
                collector.skip(reason=_SKIP_BAD_NAME, name=real)
                continue
            entry_kind = KIND_OPTIONAL if kind == KIND_PEER and package in optional_peers else kind
            collector.add(
                purl=npm_purl(real),
                name=real,
                ecosystem="npm",
                kind=entry_kind,
                version_spec="" if spec in ("*", "latest") else spec,
            )
    return collector.result()
