"""Rust's ``Cargo.toml`` (a package, a workspace root, or both)."""

from __future__ import annotations

from typing import Any

from .base import (
    Collector,
    ImportResult,
    cargo_purl,
    describe_type,
    fail,
    is_crate_name,
    load_toml,
    toml_table,
)
from .kinds import KIND_BUILD, KIND_DEV, KIND_OPTIONAL, KIND_RUNTIME

FORMAT_CARGO = "cargo"

# Cargo still accepts the old underscore spellings.
_SECTIONS = {
    "dependencies": KIND_RUNTIME,
    "dev-dependencies": KIND_DEV,
    "dev_dependencies": KIND_DEV,
    "build-dependencies": KIND_BUILD,
    "build_dependencies": KIND_BUILD,
}
_SKIP_LOCAL = "skipped path dependencies (crates of this repository, not published ones)"


class _Reader:
    """One Cargo.toml: remembers its own [workspace.dependencies] for ``workspace = true``."""

    def __init__(self, collector: Collector, workspace_deps: dict[str, Any]) -> None:
        self.collector = collector
        self.workspace_deps = workspace_deps
        self.inherited_without_root: list[str] = []

    def section(self, table: dict[str, Any], *, kind: str, where: str) -> None:
        for key, spec in table.items():
            self.entry(key, spec, kind=kind, where=where)

    def entry(self, key: str, spec: object, *, kind: str, where: str) -> None:
        label = self.collector.label
        if not is_crate_name(key):
            raise fail(label, f"{where}: {key!r} is not a valid crate name")
        if isinstance(spec, str):
            # ``serde = "1.0"`` is short for ``serde = { version = "1.0" }``.
            spec = {"version": spec}
        if not isinstance(spec, dict):
            raise fail(
                label,
                f"{where}.{key} must be a version string or a table, not {describe_type(spec)}",
            )
        if spec.get("workspace") is True:
            root = self.workspace_deps.get(key)
            optional = spec.get("optional") is True
            if root is None:
                # The version lives in the workspace root, which is another file.
                self.inherited_without_root.append(key)
                root = {}
            elif isinstance(root, str):
                root = {"version": root}
            elif not isinstance(root, dict):
                raise fail(label, f"[workspace.dependencies].{key} must be a string or a table")
            merged = {**root, "optional": optional or root.get("optional") is True}
            self.entry_table(key, merged, kind=kind, where=where)
            return
        self.entry_table(key, spec, kind=kind, where=where)

    def entry_table(self, key: str, spec: dict[str, Any], *, kind: str, where: str) -> None:
        label = self.collector.label
        if "path" in spec:
            self.collector.skip(reason=_SKIP_LOCAL, name=key)
            return
        real = spec.get("package", key)
        if not isinstance(real, str) or not is_crate_name(real):
            raise fail(label, f"{where}.{key}.package must be a crate name")
        version = spec.get("version", "")
        if not isinstance(version, str):
            raise fail(label, f"{where}.{key}.version must be a string")
        if kind == KIND_RUNTIME and spec.get("optional") is True:
            kind = KIND_OPTIONAL
        self.collector.add(
            purl=cargo_purl(real),
            name=real,
            ecosystem="cargo",
            kind=kind,
            version_spec=version.strip(),
        )


def parse_cargo_toml(*, label: str, text: str) -> ImportResult:
    """Read a ``Cargo.toml``.

    Kinds: ``[dependencies]`` runtime (``optional = true`` gives optional),
    ``[dev-dependencies]`` dev, ``[build-dependencies]`` build, the same under
    ``[target.'cfg(...)']``; ``[workspace.dependencies]`` of a workspace root count as
    runtime (they are what the members share). ``path`` dependencies are crates of the
    same repository and are skipped with a warning. ``package = "real-name"`` renames are
    honoured. ``workspace = true`` takes the entry from this file's
    ``[workspace.dependencies]`` when present; otherwise the crate is imported without a
    version and a warning says the workspace root was not uploaded. Crate names are kept
    as written. ``[patch]`` and ``[replace]`` are overrides, not dependencies.
    """
    collector = Collector(label=label, fmt=FORMAT_CARGO)
    data = load_toml(label=label, text=text)

    package = toml_table(collector, data.get("package", {}), "[package]")
    name = package.get("name")
    if isinstance(name, str) and name.strip():
        collector.project_name = name.strip()
        if is_crate_name(name.strip()):
            collector.self_purls.add(cargo_purl(name.strip()))

    workspace = toml_table(collector, data.get("workspace", {}), "[workspace]")
    workspace_deps = toml_table(
        collector, workspace.get("dependencies", {}), "[workspace.dependencies]"
    )
    reader = _Reader(collector, workspace_deps)

    # File order, so that dependencies come out in the order a reader meets them.
    for key, value in data.items():
        if key in _SECTIONS:
            reader.section(
                toml_table(collector, value, f"[{key}]"), kind=_SECTIONS[key], where=f"[{key}]"
            )
        elif key == "target":
            for cfg, target in toml_table(collector, value, "[target]").items():
                target_table = toml_table(collector, target, f"[target.'{cfg}']")
                for section, table in target_table.items():
                    if section in _SECTIONS:
                        where = f"[target.'{cfg}'.{section}]"
                        reader.section(
                            toml_table(collector, table, where),
                            kind=_SECTIONS[section],
                            where=where,
                        )
        elif key == "workspace" and workspace_deps:
            for dep, spec in workspace_deps.items():
                if isinstance(spec, dict) and spec.get("workspace") is True:
                    raise fail(
                        label,
                        f"[workspace.dependencies].{dep} cannot itself use workspace = true",
                    )
                reader.entry(dep, spec, kind=KIND_RUNTIME, where="[workspace.dependencies]")

    if reader.inherited_without_root:
        count = len(reader.inherited_without_root)
        collector.warn(
            f"{label}: {count} dependencies use 'workspace = true'; their versions are in the "
            "workspace root Cargo.toml, which was not uploaded, so they were imported "
            "without a version"
        )
    if not package and workspace:
        collector.warn(
            f"{label}: this is a workspace root; the member crates' own Cargo.toml files list "
            "what each crate uses"
        )
    return collector.result()
