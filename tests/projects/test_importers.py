"""Dependency and funding importers: real-world fixtures, every rule, and fuzzing.

Pure Python: no Django, no database (run with ``-p no:django``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faiross.kernel.recipients import parse_recipient
from projects.faiross_toml import toml_string
from projects.importers import (
    MAX_DEPENDENCIES,
    MAX_FILE_BYTES,
    Dependency,
    ImportFileError,
    ImportResult,
    dependency_rows_fit,
    parse_dependency_file,
    parse_funding_file,
    split_dependency_share,
)
from projects.importers.kinds import propagate_kinds
from projects.importers.python import requirements_kind

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "real-world"
DEPENDENCY_KINDS = ("pyproject", "requirements", "package-json", "cargo", "cyclonedx", "spdx")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _files(kind: str) -> list[Path]:
    return sorted((FIXTURES / kind).iterdir())


def load(relative: str) -> ImportResult:
    path = FIXTURES / relative
    return parse_dependency_file(filename=path.name, content=path.read_bytes())


def parse(filename: str, text: str) -> ImportResult:
    return parse_dependency_file(filename=filename, content=text.encode())


def kinds(result: ImportResult) -> dict[str, str]:
    return {dep.purl: dep.kind for dep in result.dependencies}


def by_purl(result: ImportResult, purl: str) -> Dependency:
    return next(dep for dep in result.dependencies if dep.purl == purl)


def count(result: ImportResult, kind: str) -> int:
    return sum(1 for dep in result.dependencies if dep.kind == kind)


# --- every real-world fixture imports ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [path for kind in DEPENDENCY_KINDS for path in _files(kind)],
    ids=lambda p: p.name,
)
def test_every_dependency_fixture_imports(path: Path) -> None:
    result = parse_dependency_file(filename=path.name, content=path.read_bytes())
    purls = [dep.purl for dep in result.dependencies]
    assert len(purls) == len(set(purls)), "deduplicated by purl"
    for dep in result.dependencies:
        assert dep.kind in ("runtime", "dev", "optional", "build", "peer")
        assert "@" not in dep.purl.split("/")[-1], "purls carry no version"
        assert "?" not in dep.purl and "#" not in dep.purl
        # Every dependency can become a share-table recipient as it is.
        assert parse_recipient(f"purl:{dep.purl}") == ("purl", dep.purl)


def test_fixture_kinds_are_detected_by_name_or_content() -> None:
    expected = {
        "pyproject": {"pyproject", "setup-py"},
        "requirements": {"requirements"},
        "package-json": {"package-json"},
        "cargo": {"cargo"},
        "cyclonedx": {"cyclonedx"},
        "spdx": {"spdx"},
    }
    for kind in DEPENDENCY_KINDS:
        formats = {load(f"{kind}/{path.name}").format for path in _files(kind)}
        assert formats == expected[kind]


# pyproject.toml


def test_django_pyproject() -> None:
    result = load("pyproject/django__django__pyproject.toml")
    assert result.format == "pyproject"
    assert result.project_name == "Django"
    k = kinds(result)
    assert k["pkg:pypi/asgiref"] == "runtime"
    assert k["pkg:pypi/sqlparse"] == "runtime"
    assert k["pkg:pypi/tzdata"] == "runtime"  # the marker does not make it optional
    assert k["pkg:pypi/argon2-cffi"] == "optional"
    assert k["pkg:pypi/setuptools"] == "build"
    assert by_purl(result, "pkg:pypi/asgiref").version_spec == ">=3.11.0"
    assert len(result.dependencies) == 6


def test_textual_poetry_pyproject() -> None:
    result = load("pyproject/Textualize__textual__pyproject.toml")
    assert result.project_name == "textual"
    k = kinds(result)
    assert k["pkg:pypi/rich"] == "runtime"
    assert k["pkg:pypi/markdown-it-py"] == "runtime"
    assert k["pkg:pypi/tree-sitter-python"] == "optional"  # optional = true
    assert k["pkg:pypi/pytest"] == "dev"  # [tool.poetry.group.dev.dependencies]
    assert k["pkg:pypi/poetry-core"] == "build"
    assert "pkg:pypi/python" not in k  # the interpreter constraint is not a package
    assert by_purl(result, "pkg:pypi/typing-extensions").version_spec == "^4.4.0"
    assert by_purl(result, "pkg:pypi/mdit-py-plugins").version_spec == ""  # "*"
    assert (count(result, "runtime"), count(result, "optional")) == (6, 16)


def test_ruff_pyproject_has_only_groups_and_build() -> None:
    result = load("pyproject/astral-sh__ruff__pyproject.toml")
    k = kinds(result)
    assert count(result, "runtime") == 0
    assert k["pkg:pypi/maturin"] == "build"
    assert k["pkg:pypi/prek"] == "dev"
    assert k["pkg:pypi/mkdocs"] == "dev"
    assert by_purl(result, "pkg:pypi/maturin").version_spec == ">=1.9.3,<2.0"
    assert len(result.dependencies) == 19


def test_fastapi_pyproject_include_groups() -> None:
    result = load("pyproject/fastapi__fastapi__pyproject.toml")
    k = kinds(result)
    assert k["pkg:pypi/starlette"] == "runtime"
    assert k["pkg:pypi/pydantic"] == "runtime"  # also in a dev group: runtime wins
    assert k["pkg:pypi/httpx"] == "optional"  # extra "standard" beats the dev groups
    assert k["pkg:pypi/pytest"] == "dev"  # group "tests", included by "dev"
    assert k["pkg:pypi/pdm-backend"] == "build"
    # "fastapi-cli[standard] >=0.0.32": extras dropped, spaces removed from the spec.
    assert by_purl(result, "pkg:pypi/fastapi-cli").version_spec == ">=0.0.32"
    assert count(result, "runtime") == 5
    assert not [w for w in result.warnings if "include" in w]


def test_numpy_pyproject_without_dependencies_key() -> None:
    result = load("pyproject/numpy__numpy__pyproject.toml")
    assert kinds(result) == {"pkg:pypi/meson-python": "build", "pkg:pypi/cython": "build"}
    assert by_purl(result, "pkg:pypi/cython").name == "Cython"


def test_pandas_pyproject_duplicate_names_with_markers() -> None:
    result = load("pyproject/pandas-dev__pandas__pyproject.toml")
    k = kinds(result)
    assert k["pkg:pypi/numpy"] == "runtime"  # also a build requirement
    assert by_purl(result, "pkg:pypi/numpy").version_spec == ">=1.26.0"  # first runtime one
    assert k["pkg:pypi/python-dateutil"] == "runtime"
    assert k["pkg:pypi/pyarrow"] == "optional"
    assert k["pkg:pypi/versioneer"] == "build"
    assert count(result, "runtime") == 3


def test_requests_pyproject_drops_its_own_extra() -> None:
    result = load("pyproject/psf__requests__pyproject.toml")
    k = kinds(result)
    for name in ("charset-normalizer", "idna", "urllib3", "certifi"):
        assert k[f"pkg:pypi/{name}"] == "runtime"
    assert "pkg:pypi/requests" not in k  # "requests[socks]" in the test group is itself
    assert any("itself" in w for w in result.warnings)
    pysocks = by_purl(result, "pkg:pypi/pysocks")
    assert (pysocks.name, pysocks.kind, pysocks.version_spec) == (
        "PySocks",
        "optional",
        ">=1.5.6,!=1.5.7",
    )
    assert k["pkg:pypi/pytest"] == "dev"


def test_pydantic_pyproject() -> None:
    result = load("pyproject/pydantic__pydantic__pyproject.toml")
    k = kinds(result)
    assert by_purl(result, "pkg:pypi/pydantic-core").version_spec == "==2.48.0"
    assert k["pkg:pypi/tzdata"] == "optional"
    assert k["pkg:pypi/hatchling"] == "build"
    assert k["pkg:pypi/pytest"] == "dev"
    assert count(result, "runtime") == 4


def test_scikit_learn_pyproject_runtime_beats_build() -> None:
    result = load("pyproject/scikit-learn__scikit-learn__pyproject.toml")
    k = kinds(result)
    assert [dep.purl for dep in result.dependencies[:4]] == [
        "pkg:pypi/numpy",
        "pkg:pypi/scipy",
        "pkg:pypi/joblib",
        "pkg:pypi/threadpoolctl",
    ]
    assert k["pkg:pypi/numpy"] == "runtime"
    assert k["pkg:pypi/cython"] == "build"
    assert k["pkg:pypi/matplotlib"] == "optional"
    assert count(result, "runtime") == 4


def test_requests_setup_py_stub() -> None:
    result = load("pyproject/psf__requests__setup.py")
    assert result.format == "setup-py"
    assert result.dependencies == []
    assert any("declares no dependencies" in w for w in result.warnings)


# requirements


def test_django_requirements_with_markers() -> None:
    result = load("requirements/django__django__py3.txt")
    k = kinds(result)
    assert len(result.dependencies) == 20
    assert set(k.values()) == {"runtime"}
    assert by_purl(result, "pkg:pypi/asgiref").version_spec == ">=3.7.0"
    assert by_purl(result, "pkg:pypi/pillow").version_spec == ">=6.2.1"
    assert "pkg:pypi/pyyaml" in k and "pkg:pypi/colorama" in k


def test_flask_dev_in_reports_includes() -> None:
    result = load("requirements/pallets__flask__dev.in")
    assert kinds(result) == {"pkg:pypi/pre-commit": "dev", "pkg:pypi/tox": "dev"}
    includes = [w for w in result.warnings if "-r " in w]
    assert len(includes) == 3
    assert "line 1" in includes[0] and "docs.txt" in includes[0]


def test_flask_dev_txt_pip_compile_output() -> None:
    result = load("requirements/pallets__flask__dev.txt")
    assert len(result.dependencies) == 54
    assert set(kinds(result).values()) == {"dev"}
    assert by_purl(result, "pkg:pypi/alabaster").version_spec == "==1.0.0"
    assert result.warnings == []  # "# via -r /Users/..." are comments, not includes


def test_cryptography_hashed_build_requirements() -> None:
    result = load("requirements/pyca__cryptography__build-requirements.txt")
    assert [dep.name for dep in result.dependencies] == [
        "cffi",
        "maturin",
        "pycparser",
        "tomli",
        "setuptools",
    ]
    assert set(kinds(result).values()) == {"build"}
    assert by_purl(result, "pkg:pypi/cffi").version_spec == "==1.17.0"


def test_sigstore_hashed_requirements() -> None:
    result = load("requirements/sigstore__sigstore-python__requirements.txt")
    assert len(result.dependencies) == 32
    assert set(kinds(result).values()) == {"runtime"}
    assert by_purl(result, "pkg:pypi/cryptography").version_spec == "==50.0.0"
    assert all("sha256" not in dep.version_spec for dep in result.dependencies)


# package.json


def test_express_package_json() -> None:
    result = load("package-json/expressjs__express__package.json")
    k = kinds(result)
    assert result.project_name == "express"
    assert (count(result, "runtime"), count(result, "dev")) == (28, 16)
    assert k["pkg:npm/accepts"] == "runtime"
    assert k["pkg:npm/mocha"] == "dev"
    assert by_purl(result, "pkg:npm/qs").version_spec == "^6.15.2"


def test_react_package_json() -> None:
    result = load("package-json/facebook__react__package.json")
    assert kinds(result) == {
        "pkg:npm/loose-envify": "runtime",
        "pkg:npm/object-assign": "runtime",
        "pkg:npm/prop-types": "runtime",
        "pkg:npm/scheduler": "runtime",
    }


def test_react_root_package_json_skips_file_dependency() -> None:
    result = load("package-json/facebook__react__root__package.json")
    assert count(result, "dev") == len(result.dependencies) == 72
    assert "pkg:npm/eslint-plugin-react-internal" not in kinds(result)
    assert any("eslint-plugin-react-internal" in w for w in result.warnings)


def test_vite_package_json_peers_and_scopes() -> None:
    result = load("package-json/vitejs__vite__package.json")
    k = kinds(result)
    assert count(result, "runtime") == 5
    assert k["pkg:npm/rolldown"] == "runtime"
    assert k["pkg:npm/fsevents"] == "optional"  # optionalDependencies
    assert k["pkg:npm/%40types/node"] == "optional"  # peer marked optional in the meta
    assert k["pkg:npm/esbuild"] == "optional"  # dev and optional peer: optional is stronger
    scoped = by_purl(result, "pkg:npm/%40babel/parser")
    assert (scoped.name, scoped.kind) == ("@babel/parser", "dev")


def test_vite_monorepo_root_skips_workspace() -> None:
    result = load("package-json/vitejs__vite__root__package.json")
    assert result.project_name == "@vitejs/vite-monorepo"
    assert "pkg:npm/vite" not in kinds(result)
    assert count(result, "dev") == len(result.dependencies) == 30
    assert any("workspace" in w and "vite" in w for w in result.warnings)


# Cargo.toml


def test_ripgrep_cargo() -> None:
    result = load("cargo/BurntSushi__ripgrep__Cargo.toml")
    k = kinds(result)
    assert result.project_name == "ripgrep"
    assert k["pkg:cargo/anyhow"] == "runtime"
    assert k["pkg:cargo/tikv-jemallocator"] == "runtime"  # target-specific table
    assert k["pkg:cargo/walkdir"] == "dev"
    assert "pkg:cargo/grep" not in k  # path = "crates/grep"
    assert by_purl(result, "pkg:cargo/textwrap").version_spec == "0.16.0"
    assert len(result.dependencies) == 11


def test_ruff_workspace_cargo_renames_and_paths() -> None:
    result = load("cargo/astral-sh__ruff__Cargo.toml")
    k = kinds(result)
    assert result.project_name is None
    assert k["pkg:cargo/codspeed-divan-compat"] == "runtime"  # divan = { package = ... }
    assert "pkg:cargo/divan" not in k
    assert k["pkg:cargo/salsa"] == "runtime"
    assert "pkg:cargo/ruff_cache" not in k  # path member
    assert len(result.dependencies) == 128


def test_ruff_member_crate_inherits_from_workspace() -> None:
    result = load("cargo/astral-sh__ruff__crates-ruff__Cargo.toml")
    k = kinds(result)
    assert k["pkg:cargo/clap"] == "runtime"
    assert by_purl(result, "pkg:cargo/clap").version_spec == ""  # the root has it
    assert k["pkg:cargo/ruff_linter"] == "runtime"  # also a dev-dependency
    assert k["pkg:cargo/insta"] == "dev"
    assert k["pkg:cargo/mimalloc"] == "runtime"
    assert (count(result, "runtime"), count(result, "dev")) == (51, 7)
    assert any("workspace = true" in w for w in result.warnings)


def test_serde_cargo_files() -> None:
    root = load("cargo/serde-rs__serde__root__Cargo.toml")
    assert kinds(root) == {
        "pkg:cargo/proc-macro2": "runtime",
        "pkg:cargo/quote": "runtime",
        "pkg:cargo/syn": "runtime",
    }
    assert by_purl(root, "pkg:cargo/syn").version_spec == "2.0.81"
    serde = load("cargo/serde-rs__serde__Cargo.toml")
    assert serde.dependencies == []
    assert any("serde_core" in w and "path" in w for w in serde.warnings)


# CycloneDX


def test_laravel_cyclonedx() -> None:
    result = load("cyclonedx/CycloneDX__bom-examples__laravel-7.12.0__bom.1.4.json")
    k = kinds(result)
    assert result.format == "cyclonedx"
    assert result.project_name == "cyclonedx-php-composer-demo"
    assert len(result.dependencies) == 62
    assert k["pkg:composer/laravel/framework"] == "runtime"
    assert "pkg:composer/cyclonedx/cyclonedx-php-composer-demo" not in k  # the project
    assert by_purl(result, "pkg:composer/brick/math").version_spec == "0.9.3"


def test_nested_cyclonedx_components() -> None:
    result = load("cyclonedx/CycloneDX__cyclonedx-node-npm__bundled-dependencies__bom.1.6.json")
    k = kinds(result)
    assert result.project_name == "demo-bundled-deps"
    assert len(result.dependencies) == 52
    assert "pkg:npm/bundle-dependencies" in k
    assert "pkg:npm/yargs" in k  # nested one level down
    assert "pkg:npm/demo-bundled-deps" not in k


def test_cyclonedx_json_bin_detected_by_content() -> None:
    result = load("cyclonedx/CycloneDX__cyclonedx-python__pipenv__plain_with-urls_1.6.json.bin")
    assert result.format == "cyclonedx"
    assert len(result.dependencies) == 7
    pillow = by_purl(result, "pkg:pypi/pillow")  # vcs_url qualifier dropped
    assert (pillow.version_spec, pillow.ecosystem) == ("", "pypi")
    assert by_purl(result, "pkg:pypi/certifi").version_spec == "2023.11.17"


def test_dependency_track_cyclonedx_scopes() -> None:
    result = load("cyclonedx/DependencyTrack__dependency-track__bom.json")
    k = kinds(result)
    assert len(result.dependencies) == 142
    assert count(result, "optional") == 9
    assert k["pkg:maven/org.postgresql/postgresql"] == "optional"
    slf4j = by_purl(result, "pkg:maven/org.slf4j/slf4j-api")
    assert (slf4j.name, slf4j.kind) == ("org.slf4j:slf4j-api", "runtime")
    assert "pkg:maven/org.dependencytrack/dependency-track" not in k


# SPDX


def test_spdx_2_3_example11() -> None:
    result = load("spdx/spdx__spdx-examples__example11__sbom.spdx.json")
    assert result.format == "spdx"
    assert result.project_name == "hello-server-src"
    assert kinds(result) == {
        "pkg:cargo/hyper": "runtime",
        "pkg:cargo/tokio": "runtime",
        "pkg:cargo/pretty_env_logger": "runtime",
    }
    assert by_purl(result, "pkg:cargo/tokio").version_spec == "1.19.2"


def test_spdx_3_example11_lifecycle_scope() -> None:
    result = load("spdx/spdx__spdx-examples__example11__sbom.spdx3.json")
    assert result.project_name == "hello-server-src"
    # The same SBOM, but SPDX 3 says these are build-time dependencies.
    assert kinds(result) == {
        "pkg:cargo/hyper": "build",
        "pkg:cargo/tokio": "build",
        "pkg:cargo/pretty_env_logger": "build",
    }
    assert "pkg:deb/debian/libselinux1-dev" not in kinds(result)  # the described package


def test_spdx_2_2_example9_relationship_kinds() -> None:
    result = load("spdx/spdx__spdx-examples__example9__appbomination.spdx.json")
    assert result.project_name == "App-BOM-ination"
    assert kinds(result) == {
        "pkg:maven/org.hamcrest/hamcrest-core": "dev",  # dependency of junit, a test dep
        "pkg:maven/org.apache.commons/commons-lang3": "runtime",
        "pkg:maven/junit/junit": "dev",
        "pkg:maven/org.slf4j/slf4j-api": "runtime",
    }
    assert any("Gradle" in w for w in result.warnings)


# --- requirements files: the rules ---------------------------------------------------------


def test_requirements_syntax_features() -> None:
    text = """\
# a comment
Django[argon2]>=5.2,<6 ; python_version >= '3.10'  # trailing comment
requests==2.32.0 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
-r base.txt
--constraint constraints.txt
-e git+https://github.com/x/y.git#egg=y
--index-url https://pypi.example.org/simple
https://example.com/pkg-1.0.tar.gz
./local/pkg
dist/thing-1.0-py3-none-any.whl
pillow @ https://example.com/pillow.zip
localthing @ file:///tmp/localthing
zope.interface

"""
    result = parse("requirements.txt", text)
    assert [(d.purl, d.version_spec) for d in result.dependencies] == [
        ("pkg:pypi/django", ">=5.2,<6"),
        ("pkg:pypi/requests", "==2.32.0"),
        ("pkg:pypi/pillow", ""),
        ("pkg:pypi/zope-interface", ""),
    ]
    joined = "\n".join(result.warnings)
    assert "line 6: '-r base.txt'" in joined
    assert "line 7: '--constraint constraints.txt'" in joined
    assert "editable" in joined
    assert "https://example.com/pkg-1.0.tar.gz" in joined
    assert "./local/pkg" in joined and "localthing" in joined
    assert "direct URL: pillow" in joined
    assert "index-url" not in joined  # global options are not news


def test_requirements_invalid_line_names_the_line() -> None:
    with pytest.raises(ImportFileError) as info:
        parse("requirements.txt", "django\nflask\nthis is not valid\n")
    assert info.value.line == 3
    assert info.value.message.startswith("requirements.txt line 3:")
    assert "'this is not valid' is not a valid requirement" in info.value.message


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("requirements.txt", "runtime"),
        ("requirements-dev.txt", "dev"),
        ("requirements/test.txt", "dev"),
        ("docs-requirements.in", "dev"),
        ("build-requirements.txt", "build"),
        ("requirements_prod.txt", "runtime"),
    ],
)
def test_requirements_kind_from_file_name(filename: str, kind: str) -> None:
    assert requirements_kind(filename.rsplit("/", 1)[-1]) == kind
    assert parse(filename, "six\n").dependencies[0].kind == kind


# --- pyproject.toml: the rules -------------------------------------------------------------


def test_pyproject_toml_syntax_error_has_line() -> None:
    with pytest.raises(ImportFileError) as info:
        parse("pyproject.toml", '[project]\nname = "x"\ndependencies = [\n  "a",\n  b\n]\n')
    assert info.value.line == 5
    assert info.value.message.startswith("pyproject.toml line 5: TOML syntax error:")


def test_pyproject_wrong_types_are_named() -> None:
    with pytest.raises(ImportFileError, match=r"\[project\]\.dependencies must be a list"):
        parse("pyproject.toml", '[project]\ndependencies = "django"\n')
    with pytest.raises(ImportFileError, match=r"optional-dependencies.*must be a table"):
        parse("pyproject.toml", '[project]\noptional-dependencies = ["x"]\n')
    with pytest.raises(ImportFileError) as info:
        parse("pyproject.toml", '[project]\nname = "x"\ndependencies = ["ok", "not ok!"]\n')
    assert "[project].dependencies[1]" in info.value.message
    assert info.value.line == 3


def test_pyproject_dependency_groups_include_and_cycles() -> None:
    text = (
        "[dependency-groups]\n"
        'test = ["pytest", {include-group = "lint"}]\n'
        'lint = ["ruff", {include-group = "Test"}]\n'
        'docs = [{include-group = "missing"}]\n'
    )
    result = parse("pyproject.toml", text)
    assert kinds(result) == {"pkg:pypi/pytest": "dev", "pkg:pypi/ruff": "dev"}
    joined = "\n".join(result.warnings)
    assert "cycle" in joined
    assert "'missing'" in joined
    with pytest.raises(ImportFileError, match="include-group"):
        parse("pyproject.toml", '[dependency-groups]\na = [{include = "b"}]\n')


def test_pyproject_poetry_details() -> None:
    text = """\
[tool.poetry]
name = "demo"
[tool.poetry.dependencies]
python = "^3.11"
local = { path = "../local", develop = true }
gitdep = { git = "https://github.com/x/gitdep.git" }
multi = [{ version = "<2", python = "<3.10" }, { version = ">=2", python = ">=3.10" }]
maybe = { version = "^1", optional = true }
[tool.poetry.dev-dependencies]
pytest = "^8"
[tool.poetry.group.main.dependencies]
click = "*"
"""
    result = parse("pyproject.toml", text)
    assert result.project_name == "demo"
    assert [(d.name, d.kind, d.version_spec) for d in result.dependencies] == [
        ("gitdep", "runtime", ""),
        ("multi", "runtime", "<2 || >=2"),
        ("maybe", "optional", "^1"),
        ("pytest", "dev", "^8"),
        ("click", "runtime", ""),
    ]
    assert any("local" in w for w in result.warnings)


def test_pyproject_dynamic_dependencies_warn() -> None:
    result = parse("pyproject.toml", '[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    assert result.dependencies == []
    assert any("dynamic" in w for w in result.warnings)


def test_dedup_keeps_strongest_kind_in_first_position() -> None:
    text = """\
[build-system]
requires = ["setuptools", "numpy>=2"]
[project]
dependencies = ["numpy>=1.26", "scipy"]
[project.optional-dependencies]
extra = ["scipy>=1", "matplotlib"]
[dependency-groups]
dev = ["matplotlib", "pytest"]
"""
    result = parse("pyproject.toml", text)
    assert [(d.name, d.kind, d.version_spec) for d in result.dependencies] == [
        ("setuptools", "build", ""),
        ("numpy", "runtime", ">=1.26"),  # runtime beats build, keeps numpy's place
        ("scipy", "runtime", ""),
        ("matplotlib", "optional", ""),
        ("pytest", "dev", ""),
    ]


# --- setup.py: read, never run -------------------------------------------------------------


def test_setup_py_literals_and_module_names(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = (
        "import os\n"
        f"open({str(marker)!r}, 'w').write('executed')\n"
        "from setuptools import setup\n"
        "REQUIRES = ['requests>=2', 'click']\n"
        "setup(\n"
        "    name='demo',\n"
        "    install_requires=REQUIRES,\n"
        "    extras_require={'yaml': ['PyYAML'], 'all': 'rich\\nattrs'},\n"
        "    setup_requires=['setuptools_scm'],\n"
        "    tests_require=('pytest',),\n"
        ")\n"
    )
    result = parse("setup.py", text)
    assert not marker.exists(), "setup.py must never be executed"
    assert result.project_name == "demo"
    assert kinds(result) == {
        "pkg:pypi/requests": "runtime",
        "pkg:pypi/click": "runtime",
        "pkg:pypi/pyyaml": "optional",
        "pkg:pypi/rich": "optional",
        "pkg:pypi/attrs": "optional",
        "pkg:pypi/setuptools-scm": "build",
        "pkg:pypi/pytest": "dev",
    }


def test_setup_py_computed_values_warn_and_syntax_errors_fail() -> None:
    result = parse(
        "setup.py",
        "import setuptools\nsetuptools.setup(install_requires=open('r.txt').read().split())\n",
    )
    assert result.dependencies == []
    assert any("computed" in w and "line 2" in w for w in result.warnings)
    with pytest.raises(ImportFileError) as info:
        parse("setup.py", "from setuptools import setup\nsetup(\n")
    assert "Python syntax error" in info.value.message
    assert info.value.line is not None


# --- package.json: the rules ----------------------------------------------------------------


def test_package_json_rules() -> None:
    data = {
        "name": "@acme/app",
        "dependencies": {
            "react": "^18",
            "alias": "npm:@vitejs/plugin-react@^4",
            "local": "file:../local",
            "linked": "link:../linked",
            "ws": "workspace:^",
            "Bad Name": "1",
            "//": "a comment key",
        },
        "peerDependencies": {"react-dom": "^18", "maybe": "*"},
        "peerDependenciesMeta": {"maybe": {"optional": True}},
        "optionalDependencies": {"fsevents": "~2"},
        "devDependencies": {"react": "^18", "@acme/app": "*"},
    }
    result = parse("package.json", json.dumps(data))
    assert [(d.purl, d.name, d.kind, d.version_spec) for d in result.dependencies] == [
        ("pkg:npm/react", "react", "runtime", "^18"),
        ("pkg:npm/%40vitejs/plugin-react", "@vitejs/plugin-react", "runtime", "^4"),
        ("pkg:npm/react-dom", "react-dom", "peer", "^18"),
        ("pkg:npm/maybe", "maybe", "optional", ""),
        ("pkg:npm/fsevents", "fsevents", "optional", "~2"),
    ]
    joined = "\n".join(result.warnings)
    assert "local, linked, ws" in joined
    assert "Bad Name" in joined
    assert "itself" in joined  # @acme/app lists itself


def test_package_json_wrong_types() -> None:
    with pytest.raises(ImportFileError) as info:
        parse("package.json", '{\n  "name": "x",\n  "dependencies": ["react"]\n}')
    assert info.value.message == (
        "package.json line 3: 'dependencies' must be an object mapping package names to "
        "version ranges, not a list"
    )
    with pytest.raises(ImportFileError, match="must be a version range string"):
        parse("package.json", '{"dependencies": {"react": 18}}')
    with pytest.raises(ImportFileError, match="must contain a JSON object"):
        parse("package.json", "[]")
    with pytest.raises(ImportFileError) as info:
        parse("package.json", '{\n  "name": "x",\n}')
    assert info.value.line == 3
    assert "JSON syntax error" in info.value.message


# --- Cargo.toml: the rules ------------------------------------------------------------------


def test_cargo_rules() -> None:
    text = """\
[package]
name = "app"
[dependencies]
serde = { version = "1", features = ["derive"] }
Inflector = "0.11"
json = { package = "serde_json", version = "1" }
opt = { version = "2", optional = true }
shared = { workspace = true }
mine = { path = "../mine" }
[build-dependencies]
cc = "1"
[target.'cfg(windows)'.dev-dependencies]
winapi = "0.3"
[workspace.dependencies]
shared = { version = "3.1", package = "shared-real" }
[patch.crates-io]
serde = { path = "../serde" }
"""
    result = parse("Cargo.toml", text)
    assert [(d.purl, d.kind, d.version_spec) for d in result.dependencies] == [
        ("pkg:cargo/serde", "runtime", "1"),
        ("pkg:cargo/Inflector", "runtime", "0.11"),  # crate names keep their case
        ("pkg:cargo/serde_json", "runtime", "1"),
        ("pkg:cargo/opt", "optional", "2"),
        ("pkg:cargo/shared-real", "runtime", "3.1"),  # inherited from this file's root
        ("pkg:cargo/cc", "build", "1"),
        ("pkg:cargo/winapi", "dev", "0.3"),
    ]
    assert any("mine" in w for w in result.warnings)


def test_cargo_wrong_types() -> None:
    with pytest.raises(ImportFileError, match=r"\[dependencies\]\.serde must be a version"):
        parse("Cargo.toml", "[dependencies]\nserde = 1\n")
    with pytest.raises(ImportFileError, match="not a valid crate name"):
        parse("Cargo.toml", '[dependencies]\n"bad name" = "1"\n')
    with pytest.raises(ImportFileError, match=r"\[dependencies\] must be a table"):
        parse("Cargo.toml", 'dependencies = "serde"\n')


# --- SBOMs: the rules -----------------------------------------------------------------------


def test_cyclonedx_rules() -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "metadata": {"component": {"bom-ref": "root", "name": "app", "purl": "pkg:npm/app@1"}},
        "components": [
            {"bom-ref": "root", "name": "app", "purl": "pkg:npm/app@1"},
            {"name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0"},
            {"name": "Django", "purl": "pkg:pypi/Django@5.2", "scope": "optional"},
            {"name": "mocha", "purl": "pkg:npm/mocha@10", "scope": "excluded"},
            {"name": "nopurl", "group": "acme", "version": "2", "type": "library"},
            {"name": "broken", "purl": "not a purl"},
            {"name": "readme", "type": "file"},
            {
                "name": "parent",
                "purl": "pkg:npm/parent@1",
                "components": [{"name": "child", "purl": "pkg:npm/child@1"}],
            },
            {"version": "1"},
        ],
    }
    result = parse("bom.json", json.dumps(bom))
    assert [(d.purl, d.kind, d.version_spec) for d in result.dependencies] == [
        ("pkg:npm/left-pad", "runtime", "1.3.0"),
        ("pkg:pypi/django", "optional", ""),
        ("pkg:npm/mocha", "dev", ""),
        ("pkg:generic/acme/nopurl", "runtime", "2"),
        ("pkg:generic/broken", "runtime", ""),
        ("pkg:npm/parent", "runtime", ""),
        ("pkg:npm/child", "runtime", ""),
    ]
    joined = "\n".join(result.warnings)
    assert "readme" in joined and "not a purl" in joined and "without a name" in joined


def test_sbom_wrong_structure() -> None:
    with pytest.raises(ImportFileError, match="'components' must be a list"):
        parse("bom.json", '{"bomFormat": "CycloneDX", "components": {}}')
    with pytest.raises(ImportFileError, match=r"'components\[0\]' must be an object"):
        parse("bom.json", '{"bomFormat": "CycloneDX", "components": [1]}')
    with pytest.raises(ImportFileError, match="'packages' must be a list"):
        parse("x.spdx.json", '{"spdxVersion": "SPDX-2.3", "packages": 3}')


def test_spdx_transitive_kinds_and_cycles() -> None:
    def package(spdx_id: str, name: str) -> dict[str, object]:
        return {
            "SPDXID": spdx_id,
            "name": name,
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": f"pkg:pypi/{name}@1.0",
                }
            ],
        }

    doc = {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "packages": [
            package("SPDXRef-app", "app"),
            package("SPDXRef-a", "a"),
            package("SPDXRef-b", "b"),
            package("SPDXRef-c", "c"),
            package("SPDXRef-d", "d"),
        ],
        "relationships": [
            {
                "spdxElementId": "SPDXRef-DOCUMENT",
                "relationshipType": "DESCRIBES",
                "relatedSpdxElement": "SPDXRef-app",
            },
            {
                "spdxElementId": "SPDXRef-a",
                "relationshipType": "BUILD_DEPENDENCY_OF",
                "relatedSpdxElement": "SPDXRef-app",
            },
            {
                "spdxElementId": "SPDXRef-a",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": "SPDXRef-b",
            },
            {
                "spdxElementId": "SPDXRef-b",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": "SPDXRef-a",
            },
            {
                "spdxElementId": "SPDXRef-c",
                "relationshipType": "OPTIONAL_DEPENDENCY_OF",
                "relatedSpdxElement": "SPDXRef-app",
            },
        ],
    }
    result = parse("sbom.spdx.json", json.dumps(doc))
    assert result.project_name == "app"
    assert kinds(result) == {
        "pkg:pypi/a": "build",
        "pkg:pypi/b": "build",  # through a, in a cycle: terminates, stays build
        "pkg:pypi/c": "optional",
        "pkg:pypi/d": "runtime",  # listed, not connected: part of what is shipped
    }


def test_propagate_kinds_strongest_path_wins() -> None:
    edges = [
        ("root", "x", "dev"),
        ("x", "y", "runtime"),
        ("root", "z", "runtime"),
        ("z", "y", "optional"),
        ("y", "x", "runtime"),
    ]
    assert propagate_kinds(roots=["root"], edges=edges) == {
        "root": "runtime",
        "x": "optional",  # root -> z -> y (optional) -> x beats root -> x (dev)
        "y": "optional",
        "z": "runtime",
    }


# --- limits, encodings, unknown formats ----------------------------------------------------


def test_file_size_limit() -> None:
    with pytest.raises(ImportFileError, match="at most 2,097,152 bytes"):
        parse_dependency_file(filename="requirements.txt", content=b"#" * (MAX_FILE_BYTES + 1))


def test_dependency_count_limit() -> None:
    text = "".join(f"pkg{i}\n" for i in range(MAX_DEPENDENCIES))
    assert len(parse("requirements.txt", text).dependencies) == MAX_DEPENDENCIES
    with pytest.raises(ImportFileError, match="more than 2,000 dependencies"):
        parse("requirements.txt", text + "one-too-many\n")


def test_declaration_limit_bounds_work_on_repetitive_files() -> None:
    with pytest.raises(ImportFileError, match="more than 20,000 dependency declarations"):
        parse("requirements.txt", "six==1\n" * 20_001)


def test_setup_py_and_funding_size_limits() -> None:
    with pytest.raises(ImportFileError, match=r"setup\.py has"):
        parse("setup.py", "#" * (256 * 1024 + 1))
    with pytest.raises(ImportFileError, match="a funding file may be at most"):
        parse_funding_file(filename="FUNDING.yml", content=b"#" * (256 * 1024 + 1))


def test_not_utf8() -> None:
    with pytest.raises(ImportFileError) as info:
        parse_dependency_file(filename="requirements.txt", content=b"django\nfla\xffsk\n")
    assert info.value.line == 2
    assert "not UTF-8" in info.value.message and "0xff" in info.value.message
    with pytest.raises(ImportFileError, match="UTF-16"):
        parse_dependency_file(filename="package.json", content="{}".encode("utf-16"))
    bom = "\ufeffsix\n".encode()
    assert parse_dependency_file(filename="requirements.txt", content=bom).dependencies


def test_unknown_formats_list_what_is_supported() -> None:
    with pytest.raises(ImportFileError) as info:
        parse("Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n")
    assert "pyproject.toml" in info.value.message and "CycloneDX" in info.value.message
    with pytest.raises(ImportFileError, match=r"neither a pyproject\.toml nor a Cargo\.toml"):
        parse("config.toml", "[server]\nport = 1\n")
    with pytest.raises(ImportFileError, match="not a format FairOSS reads"):
        parse("data.json", '{"hello": "world"}')
    with pytest.raises(ImportFileError, match="funding file"):
        load("funding-json/CadQuery__cadquery__funding.json")


def test_sniffs_renamed_manifests() -> None:
    assert parse("pyproject (1).toml", '[project]\ndependencies = ["six"]\n').format == "pyproject"
    assert parse("upload.toml", '[package]\nname = "x"\n[dependencies]\nlog = "0.4"\n').format == (
        "cargo"
    )
    assert parse("deps.json", '{"dependencies": {"react": "^18"}}').format == "package-json"


# --- fuzzing: nothing but ImportFileError ever comes out ----------------------------------

FILENAMES = (
    "pyproject.toml",
    "setup.py",
    "requirements.txt",
    "dev.in",
    "package.json",
    "Cargo.toml",
    "bom.json",
    "sbom.spdx.json",
    "bom.json.bin",
    "other.toml",
    "mystery",
    "",
)

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _only_import_errors(filename: str, content: bytes) -> None:
    try:
        result = parse_dependency_file(filename=filename, content=content)
    except ImportFileError as exc:
        assert isinstance(exc.message, str) and exc.message
        return
    assert isinstance(result, ImportResult)
    assert len(result.dependencies) <= MAX_DEPENDENCIES
    assert len({d.purl for d in result.dependencies}) == len(result.dependencies)


@FUZZ
@given(
    filename=st.sampled_from(FILENAMES),
    content=st.binary(max_size=600) | st.text(max_size=600).map(str.encode),
)
def test_fuzz_random_bytes(filename: str, content: bytes) -> None:
    _only_import_errors(filename, content)


_REQ_ALPHABET = "abcXYZ019-_.=<>!~;[], @#\\\n\t'\"/:*()+%"


@FUZZ
@given(
    filename=st.sampled_from(("requirements.txt", "setup.py")),
    text=st.text(alphabet=_REQ_ALPHABET, max_size=300),
)
def test_fuzz_requirement_like_text(filename: str, text: str) -> None:
    _only_import_errors(filename, text.encode())


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # TOML spells floats, inf and -inf the way Python does
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    return '""'


_TOML_KEYS = st.sampled_from(
    (
        "project",
        "name",
        "dependencies",
        "optional-dependencies",
        "dependency-groups",
        "include-group",
        "dynamic",
        "build-system",
        "requires",
        "tool",
        "poetry",
        "group",
        "dev-dependencies",
        "package",
        "workspace",
        "target",
        "build-dependencies",
        "path",
        "version",
        "optional",
        "git",
        "serde",
        "six",
    )
)
_toml_leaf = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.sampled_from(("six", "serde", "1.0", ">=1", "^2", "*", "a b", "x[y]", "", "file:x"))
    | st.text(alphabet="ab1.=<>*^~ []", max_size=8)
)
toml_documents = st.dictionaries(
    _TOML_KEYS,
    st.recursive(
        _toml_leaf,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(_TOML_KEYS, children, max_size=3)
        ),
        max_leaves=10,
    ),
    max_size=4,
)


@FUZZ
@given(
    filename=st.sampled_from(("pyproject.toml", "Cargo.toml")),
    document=toml_documents,
)
def test_fuzz_structured_toml(filename: str, document: dict[str, object]) -> None:
    text = "".join(f"{toml_string(k)} = {_toml_value(v)}\n" for k, v in document.items())
    _only_import_errors(filename, text.encode())


_JSON_KEYS = st.sampled_from(
    (
        "name",
        "version",
        "purl",
        "group",
        "scope",
        "type",
        "bom-ref",
        "components",
        "SPDXID",
        "externalRefs",
        "referenceType",
        "referenceLocator",
        "relationshipType",
        "spdxElementId",
        "relatedSpdxElement",
        "spdxId",
        "from",
        "to",
        "rootElement",
        "software_packageUrl",
    )
)
json_objects = st.recursive(
    _json_leaf
    | st.sampled_from(("purl", "pkg:npm/x@1", "pkg:pypi/A_b", "DEPENDS_ON", "dependsOn")),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_JSON_KEYS, children, max_size=5)
    ),
    max_leaves=15,
)


@FUZZ
@given(
    shape=st.sampled_from(("cyclonedx", "spdx2", "spdx3", "npm")),
    body=st.dictionaries(
        st.sampled_from(
            (
                "metadata",
                "components",
                "packages",
                "relationships",
                "documentDescribes",
                "@graph",
                "dependencies",
                "devDependencies",
                "peerDependencies",
                "peerDependenciesMeta",
                "optionalDependencies",
                "name",
            )
        ),
        json_objects,
        max_size=4,
    ),
)
def test_fuzz_structured_json(shape: str, body: dict[str, object]) -> None:
    headers: dict[str, dict[str, object]] = {
        "cyclonedx": {"bomFormat": "CycloneDX"},
        "spdx2": {"spdxVersion": "SPDX-2.3"},
        "spdx3": {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []},
        "npm": {},
    }
    header = headers[shape]
    filename = "package.json" if shape == "npm" else "sbom.json"
    _only_import_errors(filename, json.dumps({**header, **body}).encode())


@FUZZ
@given(
    keyword=st.sampled_from(("install_requires", "extras_require", "tests_require", "name")),
    value=json_values,
)
def test_fuzz_setup_py_literals(keyword: str, value: object) -> None:
    text = f"from setuptools import setup\nsetup({keyword}={value!r})\n"
    _only_import_errors("setup.py", text.encode())


def test_deep_nesting_is_an_import_error() -> None:
    for filename, text in (
        ("bom.json", "[" * 100_000),
        ("pyproject.toml", "a = " + "[" * 100_000),
        ("setup.py", "x = " + "(" * 100_000),
    ):
        with pytest.raises(ImportFileError):
            parse(filename, text)


# --- splitting a dependency share -----------------------------------------------------------


def _deps(*kinds_: str) -> list[Dependency]:
    return [
        Dependency(purl=f"pkg:pypi/p{i}", name=f"p{i}", ecosystem="pypi", kind=k, version_spec="")
        for i, k in enumerate(kinds_)
    ]


def test_split_even() -> None:
    parts = split_dependency_share(
        total_millibips=1_000_000, dependencies=_deps("runtime", "dev", "build"), policy="even"
    )
    assert parts == [333_334, 333_333, 333_333]


def test_split_direct_weighted() -> None:
    parts = split_dependency_share(
        total_millibips=900_000,
        dependencies=_deps("runtime", "build", "peer", "optional", "dev"),
        policy="direct-weighted",
    )
    assert parts == [300_000, 200_000, 200_000, 100_000, 100_000]


def test_split_runtime_only() -> None:
    deps = _deps("dev", "runtime", "optional", "runtime", "build")
    parts = split_dependency_share(total_millibips=10, dependencies=deps, policy="runtime-only")
    assert parts == [0, 5, 0, 5, 0]
    none = split_dependency_share(
        total_millibips=10, dependencies=_deps("dev"), policy="runtime-only"
    )
    assert none == [0]
    assert split_dependency_share(total_millibips=10, dependencies=[], policy="even") == []


def test_fit_keeps_the_largest_parts_and_splits_the_whole_over_them() -> None:
    # direct-weighted parts of runtime, dev, build, runtime, dev: keep 3 of 5
    kept, parts = dependency_rows_fit(total_millibips=1_000, weights=[3, 1, 2, 3, 1], limit=3)
    assert kept == [0, 2, 3]  # original order; ties of weight 1 would go to the earlier
    assert parts == [375, 250, 375] and sum(parts) == 1_000


def test_fit_of_equal_weights_keeps_the_first_in_the_file() -> None:
    kept, parts = dependency_rows_fit(total_millibips=10, weights=[5] * 4, limit=3)
    assert kept == [0, 1, 2] and parts == [4, 3, 3]


def test_fit_with_no_room_keeps_nothing() -> None:
    assert dependency_rows_fit(total_millibips=10, weights=[1, 2], limit=0) == ([], [])
    with pytest.raises(ValueError, match="limit"):
        dependency_rows_fit(total_millibips=10, weights=[1], limit=-1)


def test_split_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown share policy"):
        split_dependency_share(total_millibips=1, dependencies=[], policy="fair")
    with pytest.raises(ValueError, match="negative"):
        split_dependency_share(total_millibips=-1, dependencies=_deps("dev"), policy="even")


@settings(max_examples=100, deadline=None)
@given(
    total=st.integers(0, 10_000_000),
    kinds_=st.lists(st.sampled_from(("runtime", "build", "peer", "optional", "dev")), max_size=40),
    policy=st.sampled_from(("even", "direct-weighted", "runtime-only")),
)
def test_split_is_exact(total: int, kinds_: list[str], policy: str) -> None:
    deps = _deps(*kinds_)
    parts = split_dependency_share(total_millibips=total, dependencies=deps, policy=policy)
    assert len(parts) == len(deps)
    assert all(p >= 0 for p in parts)
    qualifying = [d for d in deps if policy != "runtime-only" or d.kind == "runtime"]
    assert sum(parts) == (total if qualifying else 0)
    if policy == "runtime-only":
        assert all(p == 0 for p, d in zip(parts, deps, strict=True) if d.kind != "runtime")


# --- funding files --------------------------------------------------------------------------


def load_funding(name: str):
    path = FIXTURES / "funding-json" / name
    return parse_funding_file(filename=path.name, content=path.read_bytes())


NOT_MANIFESTS = {
    "floss-fund__website__schema-v1.0.0__funding.schema.json",
    "floss-fund__website__annotated-template__funding.schema.json",
}


@pytest.mark.parametrize("path", _files("funding-json"), ids=lambda p: p.name)
def test_every_funding_fixture(path: Path) -> None:
    if path.name in NOT_MANIFESTS:
        with pytest.raises(ImportFileError):
            parse_funding_file(filename=path.name, content=path.read_bytes())
        return
    info = parse_funding_file(filename=path.name, content=path.read_bytes())
    for _label, url in info.links:
        assert url.startswith(("https://", "http://"))
    for person in info.people:
        assert parse_recipient(person)[0] in ("github", "email")


def test_funding_schema_files_are_not_manifests() -> None:
    with pytest.raises(ImportFileError, match=r"JSON Schema that describes funding\.json"):
        load_funding("floss-fund__website__schema-v1.0.0__funding.schema.json")
    with pytest.raises(ImportFileError) as info:
        load_funding("floss-fund__website__annotated-template__funding.schema.json")
    assert info.value.line == 4
    assert "// comments" in info.value.message


def test_floss_fund_manifests() -> None:
    cadquery = load_funding("CadQuery__cadquery__funding.json")
    assert cadquery.format == "funding-json"
    assert cadquery.people == ["email:info@cadquery.org"]
    assert cadquery.homepage == "https://cadquery.org"
    assert ("opencollective (payment-provider)", "https://opencollective.com/cadquery") in (
        cadquery.links
    )
    assert cadquery.description is not None and "\u2014" in cadquery.description

    sniffnet = load_funding("sniffnet__sniffnet.github.io__funding.json")
    assert sniffnet.people == ["email:gyulyvgc99@gmail.com"]
    assert sniffnet.homepage == "https://sniffnet.app"
    assert sniffnet.links == [("Repository", "https://github.com/GyulyVGC/sniffnet")]

    example = load_funding("floss-fund__website__funding.example.json")
    assert example.people == ["email:neo@example.com"]
    assert ("mypay (payment-provider)", "https://example.com/payme/@myid") in example.links
    assert example.homepage == "https://example.com"  # two projects: the entity's page
    assert any("2 projects" in w for w in example.warnings)


def test_github_funding_yml() -> None:
    ripgrep = load_funding("BurntSushi__ripgrep__FUNDING.yml")
    assert ripgrep.people == ["github:BurntSushi"]
    assert ripgrep.links == [
        ("GitHub Sponsors: BurntSushi", "https://github.com/sponsors/BurntSushi")
    ]
    assert load_funding("Textualize__rich__FUNDING.yml").people == ["github:willmcgugan"]
    numpy = load_funding("numpy__numpy__FUNDING.yml")
    assert numpy.people == []
    assert [url for _, url in numpy.links] == [
        "https://opencollective.com/numpy",
        "https://tidelift.com/funding/github/pypi/numpy",
        "https://numpy.org/about#donate",
    ]
    requests = load_funding("psf__requests__FUNDING.yml")
    assert requests.links == [("www.python.org", "https://www.python.org/psf/sponsorship/")]


def test_github_funding_yml_edge_cases() -> None:
    text = """\
github: [octocat, -bad-, surftocat]
patreon: # Replace with a single Patreon username
ko_fi: someone
custom: [paypal.me/someone, 'javascript:alert(1)']
made_up: thing
"""
    info = parse_funding_file(filename=".github/FUNDING.yml", content=text.encode())
    assert info.people == ["github:octocat", "github:surftocat"]
    assert ("Ko-fi: someone", "https://ko-fi.com/someone") in info.links
    assert ("paypal.me", "https://paypal.me/someone") in info.links
    assert not any("javascript" in url for _, url in info.links)
    joined = "\n".join(info.warnings)
    assert "-bad-" in joined and "made_up" in joined
    with pytest.raises(ImportFileError) as err:
        parse_funding_file(filename="FUNDING.yml", content=b"github: [a\nko_fi: b\n")
    assert "YAML syntax error" in err.value.message
    with pytest.raises(ImportFileError, match="must map platforms"):
        parse_funding_file(filename="FUNDING.yml", content=b"- a\n- b\n")


def test_drips_funding_json() -> None:
    info = load_funding("FFmpeg__FFmpeg__FUNDING.json")
    assert info.format == "drips-json"
    assert (info.links, info.people) == ([], [])
    assert any("0x2f3900e7064eE63D30d749971265858612AA7139" in w for w in info.warnings)


@FUZZ
@given(
    filename=st.sampled_from(("funding.json", "FUNDING.yml", "FUNDING.json", "funding.yaml", "x")),
    content=st.binary(max_size=400)
    | st.text(max_size=400).map(str.encode)
    | st.dictionaries(
        st.sampled_from(("entity", "projects", "funding", "drips", "github", "custom", "version")),
        json_values,
        max_size=4,
    ).map(lambda d: json.dumps(d).encode()),
)
def test_fuzz_funding_files(filename: str, content: bytes) -> None:
    try:
        info = parse_funding_file(filename=filename, content=content)
    except ImportFileError:
        return
    for person in info.people:
        parse_recipient(person)
