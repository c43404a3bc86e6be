"""Every YAML the workflow reads is read strictly: duplicate keys are refused with the key and
both lines; YAML 1.1 booleans/octals/nulls where a level or name was expected say "write it in
quotes" and show what the user wrote (issue 18, item 2)."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml
from workflow_runs import PROJECT_ROOT, prepare_workdir, run_snakemake

from msc_secretome.errors import InputError
from msc_secretome.settings import check_config_files, load_experiment
from msc_secretome.strict_yaml import load_yaml_document, read_yaml_mapping

CONFIG_SCHEMA = PROJECT_ROOT / "workflow/schemas/config.schema.yaml"
CONTRASTS_SCHEMA = PROJECT_ROOT / "workflow/schemas/contrasts.schema.yaml"


def line_of(text: str, needle: str, start: int = 1) -> int:
    """1-based number of the first line at or after ``start`` containing ``needle``."""
    for number, line in enumerate(text.splitlines(), 1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


@pytest.fixture
def project_copy(tmp_path):
    """config/ of the project copied into tmp_path; returns (config dict, config folder)."""
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    config_path = tmp_path / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["samples"] = str(tmp_path / "config" / "samples.tsv")
    config["contrasts"] = str(tmp_path / "config" / "contrasts.yaml")
    return config, tmp_path / "config"


def test_duplicated_contrast_is_refused_naming_key_and_both_lines(project_copy):
    config, folder = project_copy
    contrasts = folder / "contrasts.yaml"
    text = contrasts.read_text()
    first = next(line for line in text.splitlines() if line.startswith("  cancer_cm_vs_ctrl_"))
    # A collaborator pastes the contrast again further down, meaning to edit a copy of it.
    text = text + first.replace("therapy: none", "therapy: chemo") + "\n"
    contrasts.write_text(text)
    name = first.split(":")[0].strip()
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(f"  {name}:")]
    assert len(lines) == 2
    with pytest.raises(InputError) as error:
        load_experiment(config, CONTRASTS_SCHEMA)
    message = str(error.value)
    assert str(contrasts) in message
    assert f"duplicate key {name!r} on line {lines[0]} and line {lines[1]}" in message


def test_duplicated_model_is_refused_before_any_other_message(project_copy):
    config, folder = project_copy
    contrasts = folder / "contrasts.yaml"
    text = contrasts.read_text()
    block = "  normal:\n    subset: {cell_type: normal}\n"
    assert block in text
    # The second `cancer:` model would silently replace the first one.
    text = text.replace(block, "  cancer:\n    subset: {cell_type: normal}\n", 1)
    contrasts.write_text(text)
    first = line_of(text, "  cancer:")
    second = line_of(text, "  cancer:", first + 1)
    with pytest.raises(InputError, match=rf"duplicate key 'cancer' on line {first} and line "
                       rf"{second}.*\n  Fix: keep one of them"):  # fmt: skip
        load_experiment(config, CONTRASTS_SCHEMA)


def test_duplicated_nested_config_key_is_refused(project_copy):
    config, folder = project_copy
    path = folder / "config.yaml"
    text = path.read_text()
    # `alpha` written twice inside de: (YAML would keep the second value).
    text = re.sub(r"^(  alpha: .*)$", r"\1\n  alpha: 0.5", text, count=1, flags=re.M)
    path.write_text(text)
    first = line_of(text, "  alpha:")
    with pytest.raises(InputError) as error:
        check_config_files(yaml.safe_load(text), [path], CONFIG_SCHEMA)
    assert f"duplicate key 'alpha' on line {first} and line {first + 1}" in str(error.value)
    assert str(path) in str(error.value)


def test_the_shipped_yaml_files_are_strict_clean():
    """Every YAML the workflow reads or ships parses strictly (no duplicates, no surprises)."""
    files = [
        *(PROJECT_ROOT / "config").glob("*.yaml"),
        *(PROJECT_ROOT / "workflow/schemas").glob("*.yaml"),
        *(PROJECT_ROOT / "profiles").glob("*/config.yaml"),
        PROJECT_ROOT / ".snakemake-workflow-catalog.yml",
    ]
    assert len(files) >= 6
    for path in files:
        read_yaml_mapping(path)


def sheet_with_factors(folder, extra: dict[str, dict[str, str]]):
    """The example sheet plus columns: name -> {therapy level: new level}."""
    path = folder / "samples.tsv"
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    therapy = rows[0].index("therapy")
    for name, mapping in extra.items():
        rows[0].append(name)
        for row in rows[1:]:
            row.append(mapping[row[therapy]])
    path.write_text("\n".join("\t".join(row) for row in rows) + "\n")


@pytest.mark.parametrize(
    ("column", "levels", "written", "value"),
    [
        ("irradiated", {"none": "no", "chemo": "no", "radiation": "yes"}, "[yes, no]", "True"),
        ("dose_mg", {"none": "0", "chemo": "010", "radiation": "0"}, "[010, 0]", "8"),
    ],
    ids=["yes-no", "octal"],
)
def test_yaml11_level_in_a_contrast_says_write_it_in_quotes(
    project_copy, column, levels, written, value
):
    config, folder = project_copy
    sheet_with_factors(folder, {column: levels})
    contrasts = folder / "contrasts.yaml"
    target = written.strip("[]").split(",")[0]
    text = (
        "models:\n"
        "  cancer:\n"
        "    subset: {cell_type: cancer}\n"
        f'    design: "~ batch + {column}"\n'
        "contrasts:\n"
        f"  treated_vs_not: {{model: cancer, compare: {{{column}: {written}}}}}\n"
    )
    contrasts.write_text(text)
    with pytest.raises(InputError) as error:
        load_experiment(config, CONTRASTS_SCHEMA)
    message = str(error.value)
    assert str(contrasts) in message
    assert f"contrasts.treated_vs_not.compare.{column}[0]" in message
    assert f"you wrote {target} on line 6" in message and value in message
    assert f'write it in quotes: "{target}"' in message
    # The fix the message gives works.
    quoted = "[" + ", ".join(f'"{level.strip()}"' for level in written.strip("[]").split(",")) + "]"
    contrasts.write_text(text.replace(written, quoted))
    experiment = load_experiment(config, CONTRASTS_SCHEMA)
    assert experiment.contrasts["treated_vs_not"].terms[0][1:] == tuple(
        level.strip('" ') for level in quoted.strip("[]").split(",")
    )


def test_model_named_no_is_refused_as_a_key(project_copy):
    config, folder = project_copy
    contrasts = folder / "contrasts.yaml"
    text = contrasts.read_text().replace("  normal:\n", "  no:\n", 1)
    contrasts.write_text(text)
    with pytest.raises(InputError) as error:
        load_experiment(config, CONTRASTS_SCHEMA)
    message = str(error.value)
    assert f"you wrote no on line {line_of(text, '  no:')}" in message
    assert "bool False" in message and 'write it in quotes: "no":' in message


def test_roles_level_off_in_config_says_write_it_in_quotes(project_copy):
    _, folder = project_copy
    path = folder / "config.yaml"
    text = path.read_text().replace("control: control}", "control: off}", 1)
    path.write_text(text)
    with pytest.raises(InputError) as error:
        check_config_files(yaml.safe_load(text), [path], CONFIG_SCHEMA)
    message = str(error.value)
    assert f"roles.exposure.control should be text (a level, name or path), but you wrote off " \
        f"on line {line_of(text, 'control: off')}" in message  # fmt: skip
    assert 'write it in quotes: "off"' in message and str(path) in message


def test_booleans_where_booleans_are_expected_stay_allowed(project_copy):
    _, folder = project_copy
    path = folder / "config.yaml"
    text = path.read_text().replace("round_estimated_counts: false", "round_estimated_counts: no")
    path.write_text(text)
    check_config_files(yaml.safe_load(text), [path], CONFIG_SCHEMA)
    assert load_yaml_document(path).data["round_estimated_counts"] is False


@pytest.mark.slow
def test_snakemake_refuses_a_configfile_with_a_duplicate_key(tmp_path):
    """The check runs on the files Snakemake itself loaded (here one given with --configfile)."""
    overrides = prepare_workdir(tmp_path, {})
    overrides.write_text("min_mapping_rate: 0.5\nqc: {seed: 1}\nmin_mapping_rate: 0.9\n")
    result = run_snakemake(
        tmp_path, "--cores", "1", "--dry-run", "--configfile", str(overrides), check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "duplicate key 'min_mapping_rate' on line 1 and line 3" in output
    assert str(overrides) in output or overrides.name in output
    assert not (tmp_path / "results").exists()
