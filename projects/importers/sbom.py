"""Software bills of materials: CycloneDX JSON and SPDX JSON (2.x and 3.0 JSON-LD).

An SBOM lists the project itself too (CycloneDX ``metadata.component``, the package an
SPDX document DESCRIBES); that one is the owner of the share table, not a dependency.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .base import (
    Collector,
    ImportResult,
    describe_type,
    fail,
    generic_purl,
    normalize_purl,
)
from .kinds import KIND_BUILD, KIND_DEV, KIND_OPTIONAL, KIND_RUNTIME, propagate_kinds

FORMAT_CYCLONEDX = "cyclonedx"
FORMAT_SPDX = "spdx"

_CDX_SCOPES = {"required": KIND_RUNTIME, "optional": KIND_OPTIONAL, "excluded": KIND_DEV}
# Component types that are not software one could pay a project for.
_CDX_NOT_PACKAGES = {"file", "data", "device", "cryptographic-asset", "machine-learning-model"}
_SKIP_BAD_PURL = "components whose package URL is invalid were imported by name as pkg:generic"
_SKIP_NO_NAME = "skipped components without a name"
_SKIP_NOT_PACKAGE = "skipped components that are not packages (files, data, devices)"
_SKIP_NO_PURL = "skipped packages without a package URL (the ecosystem cannot be known)"


def is_cyclonedx(data: object) -> bool:
    """True for a parsed CycloneDX JSON document."""
    return isinstance(data, dict) and data.get("bomFormat") == "CycloneDX"


def is_spdx(data: object) -> bool:
    """True for a parsed SPDX 2.x JSON or SPDX 3 JSON-LD document."""
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("spdxVersion"), str):
        return True
    context = data.get("@context")
    contexts = context if isinstance(context, list) else [context]
    return any(isinstance(c, str) and "spdx" in c.lower() for c in contexts) and isinstance(
        data.get("@graph"), list
    )


def _list(collector: Collector, value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise fail(collector.label, f"'{where}' must be a list, not {describe_type(value)}")
    return value


def _dict(collector: Collector, value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(collector.label, f"'{where}' must be an object, not {describe_type(value)}")
    return value


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# --- CycloneDX ------------------------------------------------------------------------------


def parse_cyclonedx(*, label: str, data: dict[str, Any]) -> ImportResult:
    """Read a CycloneDX JSON BOM (any spec version).

    Every component, nested ones included, is a dependency except the project itself
    (``metadata.component``, matched by bom-ref or purl). Kind from ``scope``: required or
    absent runtime, optional optional, excluded dev. A component without a usable purl
    falls back to ``pkg:generic/[group/]name``. ``version_spec`` is the exact version.
    """
    collector = Collector(label=label, fmt=FORMAT_CYCLONEDX)
    metadata = _dict(collector, data.get("metadata", {}), "metadata")
    root_refs: set[str] = set()
    root = metadata.get("component")
    if isinstance(root, dict):
        collector.project_name = _text(root.get("name"))
        if isinstance(root.get("bom-ref"), str):
            root_refs.add(root["bom-ref"])
        if isinstance(root.get("purl"), str):
            with contextlib.suppress(ValueError):
                collector.self_purls.add(normalize_purl(root["purl"])[0])

    # Depth-first, in document order, without recursion (nesting depth is the uploader's).
    stack: list[tuple[str, Any]] = [
        (f"components[{i}]", c)
        for i, c in reversed(
            list(enumerate(_list(collector, data.get("components", []), "components")))
        )
    ]
    while stack:
        where, component = stack.pop()
        component = _dict(collector, component, where)
        children = _list(collector, component.get("components", []), f"{where}.components")
        stack.extend(
            (f"{where}.components[{i}]", child) for i, child in reversed(list(enumerate(children)))
        )
        if isinstance(component.get("bom-ref"), str) and component["bom-ref"] in root_refs:
            continue
        _cyclonedx_component(collector, component)
    return collector.result()


def _cyclonedx_component(collector: Collector, component: dict[str, Any]) -> None:
    name = _text(component.get("name"))
    group = _text(component.get("group"))
    version = _text(component.get("version")) or ""
    scope = component.get("scope")
    kind = _CDX_SCOPES.get(scope, KIND_RUNTIME) if isinstance(scope, str) else KIND_RUNTIME
    purl_text = component.get("purl")
    if isinstance(purl_text, str) and purl_text.strip():
        try:
            purl, display, ecosystem = normalize_purl(purl_text.strip())
        except ValueError:
            collector.skip(reason=_SKIP_BAD_PURL, name=purl_text.strip()[:100])
        else:
            collector.add(
                purl=purl, name=display, ecosystem=ecosystem, kind=kind, version_spec=version
            )
            return
    if name is None:
        collector.skip(reason=_SKIP_NO_NAME, name=str(component.get("bom-ref", "?"))[:100])
        return
    ctype = component.get("type")
    if isinstance(ctype, str) and ctype in _CDX_NOT_PACKAGES:
        collector.skip(reason=_SKIP_NOT_PACKAGE, name=name)
        return
    try:
        purl = generic_purl(group=group, name=name)
    except ValueError:
        collector.skip(reason=_SKIP_NO_NAME, name=name[:100])
        return
    collector.add(
        purl=purl,
        name=f"{group}/{name}" if group else name,
        ecosystem="generic",
        kind=kind,
        version_spec=version,
    )


# --- SPDX 2.x -------------------------------------------------------------------------------

# "A <type> B": which side is the dependency, and what kind of dependency it is.
_SPDX2_DEPENDENCY_OF = {
    "DEPENDENCY_OF": KIND_RUNTIME,
    "RUNTIME_DEPENDENCY_OF": KIND_RUNTIME,
    "PROVIDED_DEPENDENCY_OF": KIND_RUNTIME,
    "BUILD_DEPENDENCY_OF": KIND_BUILD,
    "DEV_DEPENDENCY_OF": KIND_DEV,
    "TEST_DEPENDENCY_OF": KIND_DEV,
    "OPTIONAL_DEPENDENCY_OF": KIND_OPTIONAL,
}
_SPDX2_DEPENDS_ON = {"DEPENDS_ON": KIND_RUNTIME}


def _typed_reference(refs: object, *, type_key: str, type_value: str, value_key: str) -> str | None:
    """The first string ``value_key`` among the objects of ``refs`` whose ``type_key`` is
    ``type_value`` (SPDX lists a package's identifiers this way), stripped; else None."""
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if (
            isinstance(ref, dict)
            and ref.get(type_key) == type_value
            and isinstance(ref.get(value_key), str)
        ):
            return ref[value_key].strip()
    return None


def _spdx2_purl(package: dict[str, Any]) -> str | None:
    return _typed_reference(
        package.get("externalRefs", []),
        type_key="referenceType",
        type_value="purl",
        value_key="referenceLocator",
    )


def _parse_spdx2(collector: Collector, data: dict[str, Any]) -> None:
    document_id = data.get("SPDXID", "SPDXRef-DOCUMENT")
    roots: list[str] = []
    describes = data.get("documentDescribes", [])
    if isinstance(describes, list):
        roots.extend(ref for ref in describes if isinstance(ref, str))
    edges: list[tuple[str, str, str]] = []
    for index, rel in enumerate(_list(collector, data.get("relationships", []), "relationships")):
        rel = _dict(collector, rel, f"relationships[{index}]")
        source, target = rel.get("spdxElementId"), rel.get("relatedSpdxElement")
        rtype = rel.get("relationshipType")
        if not (isinstance(source, str) and isinstance(target, str) and isinstance(rtype, str)):
            continue
        if rtype == "DESCRIBES" and source == document_id:
            roots.append(target)
        elif rtype == "DESCRIBED_BY" and target == document_id:
            roots.append(source)
        elif rtype in _SPDX2_DEPENDS_ON:
            edges.append((source, target, _SPDX2_DEPENDS_ON[rtype]))
        elif rtype in _SPDX2_DEPENDENCY_OF:
            edges.append((target, source, _SPDX2_DEPENDENCY_OF[rtype]))

    packages = []
    for index, package in enumerate(_list(collector, data.get("packages", []), "packages")):
        package = _dict(collector, package, f"packages[{index}]")
        spdx_id = package.get("SPDXID")
        packages.append(
            (
                spdx_id if isinstance(spdx_id, str) else f"#{index}",
                _text(package.get("name")),
                _spdx2_purl(package),
                _text(package.get("versionInfo")) or "",
            )
        )
    _emit_spdx(collector, roots=roots, edges=edges, packages=packages)


# --- SPDX 3 JSON-LD -------------------------------------------------------------------------

_SPDX3_SCOPES = {
    "build": KIND_BUILD,
    "development": KIND_DEV,
    "test": KIND_DEV,
    "runtime": KIND_RUNTIME,
}


def _spdx3_purl(element: dict[str, Any]) -> str | None:
    for key in ("software_packageUrl", "packageUrl", "software:packageUrl"):
        if isinstance(element.get(key), str):
            return element[key].strip()
    return _typed_reference(
        element.get("externalIdentifier", []),
        type_key="externalIdentifierType",
        type_value="packageUrl",
        value_key="identifier",
    )


def _ids(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _parse_spdx3(collector: Collector, data: dict[str, Any]) -> None:
    roots: list[str] = []
    documents: set[str] = set()
    edges: list[tuple[str, str, str]] = []
    packages = []
    graph = _list(collector, data.get("@graph"), "@graph")
    for index, element in enumerate(graph):
        element = _dict(collector, element, f"@graph[{index}]")
        etype = element.get("type", element.get("@type"))
        element_id = element.get("spdxId", element.get("@id"))
        if etype == "SpdxDocument":
            roots.extend(_ids(element.get("rootElement")))
            if isinstance(element_id, str):
                documents.add(element_id)
        elif etype in ("software_Package", "Package", "software:Package"):
            packages.append(
                (
                    element_id if isinstance(element_id, str) else f"#{index}",
                    _text(element.get("name")),
                    _spdx3_purl(element),
                    _text(element.get("software_packageVersion"))
                    or _text(element.get("packageVersion"))
                    or "",
                )
            )
    for element in graph:
        etype = element.get("type", element.get("@type"))
        if etype not in ("Relationship", "LifecycleScopedRelationship"):
            continue
        rtype = element.get("relationshipType")
        source = element.get("from")
        if not isinstance(source, str):
            continue
        if rtype == "describes" and source in documents:
            roots.extend(_ids(element.get("to")))
        elif rtype == "dependsOn":
            scope = element.get("scope")
            kind = (
                _SPDX3_SCOPES.get(scope, KIND_RUNTIME) if isinstance(scope, str) else KIND_RUNTIME
            )
            edges.extend((source, target, kind) for target in _ids(element.get("to")))
    _emit_spdx(collector, roots=roots, edges=edges, packages=packages)


def _emit_spdx(
    collector: Collector,
    *,
    roots: list[str],
    edges: list[tuple[str, str, str]],
    packages: list[tuple[str, str | None, str | None, str]],
) -> None:
    """Add every package except the described ones, with kinds seen from the roots.

    A package no relationship connects to a root is still in the SBOM, so it counts as
    runtime; a package only reachable through a test dependency is dev, and so on (see
    :func:`propagate_kinds`).
    """
    root_set = set(roots)
    kinds = propagate_kinds(roots=roots, edges=edges)
    for spdx_id, name, purl_text, _version in packages:
        if spdx_id in root_set:
            if collector.project_name is None and name:
                collector.project_name = name
            if purl_text:
                with contextlib.suppress(ValueError):
                    collector.self_purls.add(normalize_purl(purl_text)[0])
    for spdx_id, name, purl_text, version in packages:
        if spdx_id in root_set:
            continue
        if not purl_text:
            collector.skip(reason=_SKIP_NO_PURL, name=name or spdx_id)
            continue
        try:
            purl, display, ecosystem = normalize_purl(purl_text)
        except ValueError:
            collector.skip(reason=_SKIP_NO_PURL, name=name or spdx_id)
            continue
        collector.add(
            purl=purl,
            name=display,
            ecosystem=ecosystem,
            kind=kinds.get(spdx_id, KIND_RUNTIME),
            version_spec=version,
        )


def parse_spdx(*, label: str, data: dict[str, Any]) -> ImportResult:
    """Read an SPDX JSON document: 2.x (``spdxVersion``) or 3.0 JSON-LD (``@graph``).

    Dependencies are the packages with a purl (SPDX 2: ``externalRefs`` of type purl; SPDX
    3: ``software_packageUrl`` or a packageUrl external identifier), except the packages
    the document DESCRIBES (the project itself). Kinds come from the relationships:
    DEPENDS_ON/DEPENDENCY_OF runtime, BUILD_ build, DEV_/TEST_ dev, OPTIONAL_ optional;
    in SPDX 3 the ``scope`` of a lifecycle-scoped dependsOn. Packages without a purl are
    skipped with a warning.
    """
    collector = Collector(label=label, fmt=FORMAT_SPDX)
    if isinstance(data.get("spdxVersion"), str):
        _parse_spdx2(collector, data)
    else:
        _parse_spdx3(collector, data)
    return collector.result()
