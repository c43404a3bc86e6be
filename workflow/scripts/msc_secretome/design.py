"""Models (fits) and contrasts (questions asked of a fit), named by cells of the design.

A *model* picks samples (``subset``), a design formula and the reference level of each factor.
A *contrast* names cells of that design, never coefficient names:

* ``compare: {medium: [msc_cm, control]}`` with optional ``at: {therapy: chemo}``: the
  difference between two cells that differ in one factor; factors not named are held at
  their reference level.
* ``interaction: {medium: [msc_cm, control], therapy: [chemo, none]}``: the
  difference of differences, (msc_cm - control | chemo) - (msc_cm - control | none).

The contrast vector is the difference of the cells' design rows, built with formulaic (the
encoding PyDESeq2 uses), so it works for additive, blocked and interaction designs alike.
Design formulas are parsed by a strict grammar (names joined by ``+``, ``*`` and ``:``) and are
never evaluated as code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import InputError

if TYPE_CHECKING:
    from formulaic_contrasts import FormulaicContrasts

FORMULA = re.compile(r"^\s*~\s*[A-Za-z_][A-Za-z0-9_]*(\s*[+*:]\s*[A-Za-z_][A-Za-z0-9_]*)*\s*$")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Model:
    name: str
    design: str
    subset: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reference: dict[str, str] = field(default_factory=dict)
    continuous: tuple[str, ...] = ()  # design variables read as numbers (dose, time, RIN)

    @property
    def variables(self) -> list[str]:
        return design_variables(self.design)

    def subset_label(self) -> str:
        return "; ".join(f"{k}={','.join(v)}" for k, v in self.subset.items())


@dataclass(frozen=True)
class Contrast:
    name: str
    model: str
    kind: str  # "compare" | "interaction" | "slope" (per unit of a continuous covariate)
    terms: tuple[tuple[str, str, str], ...]  # (variable, target level, reference level)
    at: dict[str, str] = field(default_factory=dict)
    test: str | None = None  # overrides de.test for this contrast
    reduced: str | None = None  # lrt/qlf null design formula (default: the contrast's null)

    def describe(self) -> str:
        """Plain-words description, e.g. 'medium msc_cm vs control at therapy=chemo'."""
        (var, target, ref), *rest = self.terms
        text = f"{var} {target} vs {ref}"
        if self.kind == "slope":
            text = f"per unit of {var}"
        if self.kind == "interaction":
            var2, target2, ref2 = rest[0]
            text = f"({text}) under {var2} {target2} minus under {var2} {ref2}"
        if self.at:
            text += " at " + ", ".join(f"{k}={v}" for k, v in self.at.items())
        return text


def design_variables(design: str) -> list[str]:
    """Sample-sheet columns named in a design formula, in order of first appearance."""
    if not FORMULA.match(design):
        raise InputError(
            f"design {design!r} is not of the form '~ a + b + c:d' or '~ a * b'",
            fix="use sample-sheet column names joined by +, * and : (no functions)",
        )
    seen: list[str] = []
    for name in NAME.findall(design):
        if name not in seen:
            seen.append(name)
    return seen


def parse_models(config: dict, path: str = "contrasts") -> dict[str, Model]:
    """Models from the ``models:`` mapping of the contrasts file (schema-validated already)."""
    models = {}
    for name, spec in (config.get("models") or {}).items():
        subset = {
            str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v]))
            for k, v in (spec.get("subset") or {}).items()
        }
        reference = {str(k): str(v) for k, v in (spec.get("reference") or {}).items()}
        try:
            variables = design_variables(spec["design"])
        except InputError as err:
            raise InputError(f"model {name!r}: {err}", path=path, fix=err.fix) from None
        continuous = tuple(str(v) for v in (spec.get("continuous") or []))
        stray = [v for v in continuous if v not in variables] + [
            v for v in continuous if v in reference
        ]
        if stray:
            raise InputError(
                f"model {name!r}: continuous {stray} must be design variables without a "
                f"reference level; design variables: {variables}",
                path=path,
                fix="list in 'continuous' only numeric columns of the design",
            )
        models[name] = Model(str(name), spec["design"].strip(), subset, reference, continuous)
    if not models:
        raise InputError("no models defined", path=path, fix="add a 'models:' section")
    return models


def parse_contrasts(config: dict, models: dict[str, Model], path: str = "contrasts"):
    """Contrasts from the ``contrasts:`` mapping; checks that each names a known model."""
    contrasts = {}
    for name, spec in (config.get("contrasts") or {}).items():
        where = f"contrast {name!r}"
        if spec["model"] not in models:
            raise InputError(
                f"{where} uses model {spec['model']!r}, which is not defined; "
                f"models: {sorted(models)}",
                path=path,
            )
        kinds = [k for k in ("compare", "interaction", "slope") if k in spec]
        if len(kinds) != 1:
            raise InputError(
                f"{where}: give exactly one of 'compare', 'interaction' or 'slope'", path=path
            )
        kind = kinds[0]
        at = {str(k): str(v) for k, v in (spec.get("at") or {}).items()}
        test, reduced = spec.get("test"), spec.get("reduced")
        if kind == "slope":
            variable = str(spec["slope"])
            if variable not in models[spec["model"]].continuous:
                raise InputError(
                    f"{where}: slope {variable!r} is not a continuous covariate of model "
                    f"{spec['model']!r} (its 'continuous': "
                    f"{list(models[spec['model']].continuous)})",
                    path=path,
                    fix=f"add {variable!r} to the model's 'continuous' list",
                )
            if variable in at:
                raise InputError(f"{where}: {variable!r} is both the slope and in 'at'", path=path)
            contrasts[name] = Contrast(
                str(name), spec["model"], kind, ((variable, "+1", "0"),), at, test, reduced
            )
            continue
        items = list(spec[kind].items())
        expected = 1 if kind == "compare" else 2
        if len(items) != expected:
            raise InputError(
                f"{where}: '{kind}' needs {expected} factor(s), got {len(items)}",
                path=path,
                fix="compare: {factor: [target, reference]}; interaction: "
                "{factor1: [target, reference], factor2: [target, reference]}",
            )
        terms = []
        for var, levels in items:
            if not isinstance(levels, list) or len(levels) != 2 or levels[0] == levels[1]:
                raise InputError(
                    f"{where}: {var}: needs two different levels [target, reference], "
                    f"got {levels!r}",
                    path=path,
                )
            terms.append((str(var), str(levels[0]), str(levels[1])))
        clash = [t[0] for t in terms if t[0] in at]
        if clash:
            raise InputError(f"{where}: {clash} appear both in '{kind}' and in 'at'", path=path)
        if reduced is not None:
            try:
                design_variables(reduced)
            except InputError as err:
                raise InputError(f"{where}: reduced {err}", path=path, fix=err.fix) from None
            if test == "wald":
                raise InputError(
                    f"{where}: 'reduced' needs test lrt or qlf, not wald",
                    path=path,
                    fix="add 'test: lrt' (or qlf) to the contrast, or remove 'reduced'",
                )
        contrasts[name] = Contrast(
            str(name), spec["model"], kind, tuple(terms), at, test, reduced and reduced.strip()
        )
    if not contrasts:
        raise InputError("no contrasts defined", path=path, fix="add a 'contrasts:' section")
    return contrasts


def model_samples(
    samples: pd.DataFrame,
    model: Model,
    default_reference: dict[str, str] | None = None,
    path: str = "contrasts",
) -> pd.DataFrame:
    """The model's samples (index = sample) with design columns as ordered categoricals.

    Levels are ordered reference first, then in order of first appearance in the sheet.
    The reference is the model's ``reference``, else ``default_reference`` (from roles),
    else the first level in sheet order; never alphabetical.
    """
    where = f"model {model.name!r}"
    for column, levels in model.subset.items():
        if column not in samples.columns:
            raise InputError(
                f"{where}: subset column {column!r} is not a sample-sheet column; "
                f"columns: {list(samples.columns)}",
                path=path,
            )
        unknown = [lv for lv in levels if lv not in set(samples[column])]
        if unknown:
            raise InputError(
                f"{where}: subset {column}={unknown} matches no sample; levels of {column}: "
                f"{_levels(samples[column])}",
                path=path,
            )
    keep = np.ones(len(samples), dtype=bool)
    for column, levels in model.subset.items():
        keep &= samples[column].isin(levels).to_numpy()
    chosen = samples.loc[keep].set_index("sample")
    for variable in model.variables:
        if variable not in chosen.columns:
            raise InputError(
                f"{where}: design {model.design!r} names {variable!r}, which is not a "
                f"sample-sheet column; columns: {[c for c in samples.columns if c != 'sample']}",
                path=path,
            )
    for variable in model.reference:
        if variable not in model.variables:
            raise InputError(
                f"{where}: reference given for {variable!r}, which is not in the design",
                path=path,
            )
    out = chosen.copy()
    for variable in model.variables:
        if variable in model.continuous:
            out[variable] = _numeric(chosen[variable], variable, where, path)
            continue
        levels = _levels(chosen[variable])
        if len(levels) < 2:
            raise InputError(
                f"{where}: factor {variable!r} has a single level {levels} among the model's "
                f"{len(chosen)} samples, so it cannot be in the design",
                path=path,
                fix=f"remove {variable!r} from the design of {model.name!r} (it is constant "
                "in this subset)",
            )
        sizes = chosen[variable].astype(str).value_counts()
        lonely = sorted(sizes.index[sizes == 1])
        if lonely:
            raise InputError(
                f"{where}: level(s) {lonely} of {variable!r} have a single sample among the "
                "model's samples: its coefficient would fit that sample exactly and no "
                "variance could be estimated for it",
                path=path,
                fix="add replicates, merge the level with another, or drop the sample "
                "(subset) before fitting",
            )
        reference = model.reference.get(variable) or (default_reference or {}).get(variable)
        if reference is None:
            reference = levels[0]
        if reference not in levels:
            raise InputError(
                f"{where}: reference level {reference!r} of {variable!r} is not among the "
                f"model's levels {levels}",
                path=path,
            )
        ordered = [reference] + [lv for lv in levels if lv != reference]
        out[variable] = pd.Categorical(chosen[variable], categories=ordered)
    return out


def check_design(metadata: pd.DataFrame, model: Model, path: str = "contrasts"):
    """Full rank and residual degrees of freedom; returns the formulaic contrasts helper."""
    # imported here: the verdict and summary jobs use this module without building designs
    from formulaic_contrasts import FormulaicContrasts

    helper = FormulaicContrasts(metadata, model.design)
    matrix = helper.design_matrix
    x = matrix.to_numpy(dtype=float)
    n, p = x.shape
    rank = np.linalg.matrix_rank(x)
    if rank < p:
        raise InputError(
            f"model {model.name!r}: design {model.design!r} is not full rank "
            f"(rank {rank} < {p} columns). {_confounding(matrix)}",
            path=path,
            fix="drop a confounded factor, or remove a term whose cells have no samples "
            "(e.g. use '+' instead of '*' when some combinations were not sequenced)",
        )
    if n - p < 1:
        raise InputError(
            f"model {model.name!r}: {n} samples for {p} coefficients leaves no residual "
            "degrees of freedom to estimate dispersion",
            path=path,
            fix="add replicates or simplify the design",
        )
    return helper


def _confounding(matrix: pd.DataFrame) -> str:
    """Name each column that is a linear combination of earlier ones."""
    x = matrix.to_numpy(dtype=float)
    names = list(matrix.columns)
    messages = []
    kept: list[int] = []
    for j in range(x.shape[1]):
        basis = x[:, kept]
        if kept:
            coef, *_ = np.linalg.lstsq(basis, x[:, j], rcond=None)
            residual = x[:, j] - basis @ coef
        else:
            coef, residual = np.array([]), x[:, j]
        if np.linalg.norm(residual) < 1e-8 * max(1.0, np.linalg.norm(x[:, j])):
            partners = [names[kept[i]] for i, c in enumerate(coef) if abs(c) > 1e-8]
            if partners:
                messages.append(f"{names[j]!r} is determined by {partners}")
            else:
                messages.append(f"{names[j]!r} is all zero (a combination with no samples)")
        else:
            kept.append(j)
    return "; ".join(messages[:5])


def contrast_vector(helper: FormulaicContrasts, contrast: Contrast, model: Model, metadata):
    """Contrast vector (pd.Series over design columns) from the cells a contrast names."""
    where = f"contrast {contrast.name!r} (model {model.name!r})"
    variables = model.variables
    named = [t[0] for t in contrast.terms] + list(contrast.at)
    for variable in named:
        if variable not in variables:
            raise InputError(
                f"{where}: {variable!r} is not in the design {model.design!r}",
                path="contrasts",
                fix=f"use one of {variables}",
            )
    levels_to_check = [(v, t) for v, t, _ in contrast.terms] + [
        (v, r) for v, _, r in contrast.terms
    ]
    levels_to_check += list(contrast.at.items())
    continuous = set(model.continuous)
    if contrast.kind == "slope" and contrast.terms[0][0] not in continuous:
        raise InputError(
            f"{where}: slope {contrast.terms[0][0]!r} is not a continuous covariate",
            path="contrasts",
        )
    for variable, level in levels_to_check:
        if variable in continuous:
            if contrast.kind != "slope" or variable != contrast.terms[0][0]:
                try:
                    float(level)
                except ValueError:
                    raise InputError(
                        f"{where}: {variable!r} is continuous; {level!r} is not a number",
                        path="contrasts",
                        fix="compare a continuous covariate with 'slope', or give a number",
                    ) from None
            continue
        present = list(metadata[variable].cat.categories)
        if level not in present:
            raise InputError(
                f"{where}: level {level!r} of {variable!r} is not among the model's samples; "
                f"levels there: {present}",
                path="contrasts",
                fix="fix the level name, or the model's subset",
            )

    def cell(**levels):
        values = {**contrast.at, **levels}
        return helper.cond(**{k: float(v) if k in continuous else v for k, v in values.items()})

    (v1, t1, r1), *rest = contrast.terms
    if contrast.kind == "slope":  # per unit: the design row at v1 = 1 minus at v1 = 0
        vector = cell(**{v1: 1.0}) - cell(**{v1: 0.0})
    elif contrast.kind == "compare":
        vector = cell(**{v1: t1}) - cell(**{v1: r1})
    else:
        v2, t2, r2 = rest[0]
        vector = (cell(**{v1: t1, v2: t2}) - cell(**{v1: r1, v2: t2})) - (
            cell(**{v1: t1, v2: r2}) - cell(**{v1: r1, v2: r2})
        )
    vector = vector.astype(float)
    if not np.any(np.abs(vector.to_numpy()) > 0):
        raise InputError(
            f"{where}: the contrast is zero in this design (for an interaction, the design "
            f"needs the {v1}:{rest[0][0] if rest else ''} term: use '*')",
            path="contrasts",
        )
    return vector


def _numeric(values: pd.Series, variable: str, where: str, path: str) -> pd.Series:
    """A continuous covariate as float64; every value a finite number, at least two values."""
    numbers = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        sample = str(values.index[bad][0])
        raise InputError(
            f"{where}: continuous covariate {variable!r} is {str(values[bad].iloc[0])!r} for "
            f"sample {sample!r} ({int(bad.sum())} sample(s) not a number)",
            path="samples",
            fix=f"write a number for every sample in column {variable!r}, or remove it from "
            "the model's 'continuous' list to treat it as a factor",
        )
    if numbers.nunique() < 2:
        raise InputError(
            f"{where}: continuous covariate {variable!r} has a single value among the model's "
            "samples, so it cannot be in the design",
            path=path,
            fix=f"remove {variable!r} from the design of {where}",
        )
    return numbers.astype(float)


def _levels(values: pd.Series) -> list[str]:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values.astype(str)))


def contrast_context(contrast: Contrast, model: Model) -> dict[str, str | None]:
    """The single level of each factor a contrast is evaluated at, where there is one.

    From the contrast's ``at``, else a one-level model subset, else the model's reference
    level of a design factor (``model.reference`` must hold the levels actually used).
    """
    context: dict[str, str | None] = {}
    for column, levels in model.subset.items():
        context[column] = levels[0] if len(levels) == 1 else None
    for variable in model.variables:
        context[variable] = model.reference.get(variable)
    for variable, _, _ in contrast.terms:
        context[variable] = None
    context.update(contrast.at)
    return context
