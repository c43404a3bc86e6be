"""Conda environments parse, pin every package, and agree with pyproject's pins (no drift)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import pytest
import yaml
from workflow_runs import PROJECT_ROOT

ENV_FILES = sorted((PROJECT_ROOT / "envs").glob("*.yaml"))
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.\-]+)$")


def pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    pins = {}
    for dep in deps:
        match = PIN.match(dep)
        assert match, f"pyproject dependency {dep!r} is not pinned with =="
        pins[match.group(1).lower()] = match.group(2)
    return pins


def env_pins(path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    assert env["channels"], f"{path.name}: no channels"
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for pip_dep in dep["pip"]:
                match = PIN.match(pip_dep)
                assert match, f"{path.name}: pip dependency {pip_dep!r} is not pinned with =="
                pins[match.group(1).lower()] = match.group(2)
        else:
            assert re.match(r"^[A-Za-z0-9_.\-]+=[0-9][^ ]*$", dep), f"{path.name}: {dep!r} unpinned"
    return pins


def test_every_rule_env_exists_and_is_used():
    assert {p.stem for p in ENV_FILES} == {"analysis", "report"}
    rules = "\n".join(p.read_text() for p in (PROJECT_ROOT / "workflow/rules").glob("*.smk"))
    # named rules, and the rules generated per model in a loop (`rule:` with `name:`)
    n_rules = len(re.findall(r"^\s*rule[\s:]", rules, flags=re.M))
    n_conda = len(re.findall(r"^\s+conda:", rules, flags=re.M))
    assert n_rules == n_conda, "every rule needs a conda: directive"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_agree_with_pyproject(path):
    pins = pyproject_pins()
    for package, version in env_pins(path).items():
        assert package in pins, f"{path.name}: {package} is not pinned in pyproject.toml"
        assert pins[package] == version, f"{path.name}: {package} {version} != {pins[package]}"


def test_installed_versions_are_the_pinned_ones():
    """The environment the tests run in is the one the pins describe."""
    for package, version in pyproject_pins().items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue  # optional tools (e.g. snakefmt) may be absent where tests only skip
        assert installed == version, f"{package}: installed {installed}, pinned {version}"


def constraint_pins() -> dict[str, str]:
    pins = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = PIN.match(line)
            assert match, f"constraints.txt: {line!r} is not name==version"
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_constraints_agree_with_pyproject_pins():
    constraints = constraint_pins()
    for package, version in pyproject_pins().items():
        assert constraints.get(canonical(package)) == version, (
            f"constraints.txt has {package} {constraints.get(canonical(package))}, "
            f"pyproject.toml pins {version}: regenerate constraints.txt (see its header)"
        )


def test_constraints_cover_every_transitive_dependency():
    """Every package the pinned ones pull in (as installed here) has a line in constraints.txt.

    Requested extras count too (a dependency on ``pandas[parquet]`` pulls in pyarrow).
    """
    from packaging.requirements import Requirement

    constraints = constraint_pins()
    todo = [(canonical(p), "") for p in pyproject_pins()]
    seen: set[tuple[str, str]] = set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # optional tools may be absent where their tests only skip
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                dependency = canonical(requirement.name)
                todo += [(dependency, "")] + [(dependency, e) for e in requirement.extras]
    missing = sorted({name for name, _ in seen} - set(constraints))
    assert missing == [], f"not in constraints.txt (regenerate it, see its header): {missing}"


def test_snakemake_report_needs_only_the_main_install():
    """`snakemake --report` needs snakemake's `reports` extra: it is in the main dependencies."""
    from packaging.requirements import Requirement

    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    main = {canonical(PIN.match(dep).group(1)) for dep in data["project"]["dependencies"]}
    reports = [
        canonical(requirement.name)
        for requirement in map(Requirement, metadata.distribution("snakemake").requires or [])
        if requirement.marker is not None and requirement.marker.evaluate({"extra": "reports"})
        and not requirement.marker.evaluate({"extra": ""})
    ]  # fmt: skip
    assert "pygments" in reports
    assert set(reports) <= main, f"add to [project] dependencies: {set(reports) - main}"
