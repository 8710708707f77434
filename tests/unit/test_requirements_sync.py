"""The pinned install files agree with each other and with pyproject.toml.

requirements.txt (runtime) and requirements-test.txt (tests, lint, benchmarks) pin exact versions;
constraints.txt pins every package of the environment; pyproject.toml gives the ranges. A version
bumped in one file only, or a dependency added to one file only, fails here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from tests.data import PROJECT_ROOT

# Installed with --no-deps outside the constraints (their declared dependencies would build dlib from
# source or pull in the GUI OpenCV; see docs/development.md). A new entry needs its reason here.
NODEPS_OUTSIDE_CONSTRAINTS = {
    "face-recognition": "declares dlib (a source build); dlib-bin is pinned instead",
    "hsemotion-onnx": "declares opencv-python (GUI); opencv-python-headless is pinned instead",
}


def requirement_lines(path: Path) -> list[Requirement]:
    """The requirements in a pip requirements file, following `-r` includes."""
    found: list[Requirement] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found += requirement_lines(path.parent / line[3:].strip())
            continue
        assert not line.startswith("-"), f"{path.name}: unexpected option line {raw!r}"
        found.append(Requirement(line))
    return found


def pins(path: Path) -> dict[NormalizedName, str]:
    """Name -> exact version of every requirement in `path`; each one must be pinned with `==`."""
    pinned: dict[NormalizedName, str] = {}
    for requirement in requirement_lines(path):
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.name}: {requirement} is not pinned"
        name = canonicalize_name(requirement.name)
        assert pinned.get(name, specifiers[0].version) == specifiers[0].version, f"{path.name}: {name} pinned twice"
        pinned[name] = specifiers[0].version
    return pinned


def own_pins(path: Path) -> dict[NormalizedName, str]:
    """Like `pins`, without the requirements pulled in by `-r` includes."""
    included: dict[NormalizedName, str] = {}
    for raw in path.read_text().splitlines():
        if raw.strip().startswith("-r "):
            included |= pins(path.parent / raw.strip()[3:].strip())
    return {name: version for name, version in pins(path).items() if name not in included}


@pytest.fixture(scope="module")
def project() -> dict:
    with open(PROJECT_ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


RUNTIME = pins(PROJECT_ROOT / "requirements.txt")
TEST = pins(PROJECT_ROOT / "requirements-test.txt")
CONSTRAINTS = pins(PROJECT_ROOT / "constraints.txt")
NODEPS = pins(PROJECT_ROOT / "requirements-nodeps.txt")


@pytest.mark.parametrize("name", sorted(RUNTIME.keys() | TEST.keys()))
def test_every_pinned_requirement_has_the_same_version_in_the_constraints(name):
    assert name in CONSTRAINTS, f"{name} is pinned in requirements but missing from constraints.txt"
    assert CONSTRAINTS[name] == TEST.get(name, RUNTIME.get(name))


def test_the_test_requirements_include_the_runtime_ones_unchanged():
    assert {name: TEST.get(name) for name in RUNTIME} == RUNTIME


def test_runtime_dependencies_are_exactly_the_pinned_runtime_requirements(project):
    ranges = {canonicalize_name(Requirement(line).name): Requirement(line) for line in project["dependencies"]}
    assert ranges.keys() == RUNTIME.keys(), "pyproject dependencies and requirements.txt name different packages"
    for name, requirement in ranges.items():
        assert requirement.specifier.contains(RUNTIME[name]), f"{name}=={RUNTIME[name]} is outside {requirement}"


def test_extras_are_pinned_in_the_test_requirements(project):
    for extra, lines in project["optional-dependencies"].items():
        for line in lines:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in TEST, f"[{extra}] {name} is not pinned in requirements-test.txt"
            assert requirement.specifier.contains(TEST[name]), f"{name}=={TEST[name]} is outside {requirement}"


def test_the_test_extra_is_exactly_the_test_only_requirements(project):
    extra = {canonicalize_name(Requirement(line).name) for line in project["optional-dependencies"]["test"]}
    assert extra == own_pins(PROJECT_ROOT / "requirements-test.txt").keys()


def test_no_deps_packages_are_in_the_constraints_or_explained():
    for name, version in NODEPS.items():
        assert name not in RUNTIME and name not in TEST, f"{name} is installed both with and without its dependencies"
        if name in CONSTRAINTS:
            assert CONSTRAINTS[name] == version, f"{name}: {version} here, {CONSTRAINTS[name]} in constraints.txt"
        else:
            assert name in NODEPS_OUTSIDE_CONSTRAINTS, f"{name} is neither in constraints.txt nor explained"
    assert NODEPS_OUTSIDE_CONSTRAINTS.keys() <= NODEPS.keys(), "an explanation for a package no longer installed"
