"""Continuous covariates in designs (dose, time, RNA quality) and per-unit ``slope`` contrasts.

* Parsing: a ``slope`` must name a covariate listed in the model's ``continuous``; a sample
  whose value is not a number is refused naming the sample and the column.
* ``~ condition * dose`` (2 conditions x 3 doses, dose continuous): the per-unit slope at each
  condition and the difference of slopes are the right contrast vectors, the fit crosses the
  job boundary with dose as numbers, and (``rpeer``, slow) the Wald statistics and calls equal
  DESeq2's in R with ``dose`` numeric in its colData.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from msc_secretome.design import (
    check_design,
    contrast_vector,
    model_samples,
    parse_contrasts,
    parse_models,
)
from msc_secretome.differential_expression import fit_model, model_arrays, prefilter_mask
from msc_secretome.errors import InputError
from msc_secretome.model_store import model_metadata, read_model, write_model
from msc_secretome.wald import contrast_table

SPEC = {
    "models": {
        "dose": {
            "design": "~ condition * dose",
            "continuous": ["dose"],
            "reference": {"condition": "control"},
        }
    },
    "contrasts": {
        "per_unit_control": {"model": "dose", "slope": "dose"},
        "per_unit_treated": {"model": "dose", "slope": "dose", "at": {"condition": "treated"}},
        "treated_vs_control_at_0": {
            "model": "dose",
            "compare": {"condition": ["treated", "control"]},
        },
    },
}


def dose_experiment(seed: int = 8, n_genes: int = 1200):
    """2 conditions x doses 0, 1, 2 x 3 replicates; genes 0-99 rise with dose when treated."""
    rng = np.random.default_rng(seed)
    rows = [(c, d, r) for c in ("control", "treated") for d in (0, 1, 2) for r in range(3)]
    samples = pd.DataFrame(rows, columns=["condition", "dose", "replicate"])
    samples.insert(0, "sample", [f"s{i:02d}" for i in range(len(samples))])
    samples = samples.drop(columns="replicate").astype(str)
    base = rng.gamma(1.5, 200, size=n_genes)
    slope = np.zeros(n_genes)
    slope[:100] = rng.choice([-0.6, 0.6], size=100)
    treated = (samples["condition"] == "treated").to_numpy()[:, None]
    dose = samples["dose"].astype(float).to_numpy()[:, None]
    mu = base[None, :] * np.exp(treated * dose * slope[None, :])
    dispersion = 0.05 + 1 / base
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion))
    frame = pd.DataFrame(
        counts, index=samples["sample"], columns=[f"g{i:04d}" for i in range(n_genes)]
    )
    return samples, frame


def test_slope_needs_a_continuous_covariate_and_numbers():
    spec = {
        "models": {"m": {"design": "~ dose"}},
        "contrasts": {"s": {"model": "m", "slope": "dose"}},
    }
    models = parse_models(spec)
    with pytest.raises(InputError, match="not a continuous covariate of model 'm'"):
        parse_contrasts(spec, models)
    with pytest.raises(InputError, match="continuous \\['time'\\] must be design variables"):
        parse_models({"models": {"m": {"design": "~ dose", "continuous": ["time"]}}})
    samples, _ = dose_experiment(n_genes=200)
    samples.loc[3, "dose"] = "1,5"  # a decimal comma
    model = parse_models(SPEC)["dose"]
    with pytest.raises(InputError, match="'dose' is '1,5' for sample 's03'") as err:
        model_samples(samples, model)
    assert "write a number" in str(err.value)


def test_slope_vectors_and_model_file(tmp_path):
    samples, counts = dose_experiment()
    models = parse_models(SPEC)
    model, contrasts = models["dose"], parse_contrasts(SPEC, models)
    metadata = model_samples(samples, model).loc[:, model.variables]
    helper = check_design(metadata, model)
    vectors = {name: contrast_vector(helper, c, model, metadata) for name, c in contrasts.items()}
    assert vectors["per_unit_control"].to_dict() == {
        "Intercept": 0.0,
        "condition[T.treated]": 0.0,
        "dose": 1.0,
        "condition[T.treated]:dose": 0.0,
    }
    assert vectors["per_unit_treated"].to_dict() == {
        "Intercept": 0.0,
        "condition[T.treated]": 0.0,
        "dose": 1.0,
        "condition[T.treated]:dose": 1.0,
    }
    counts = counts.loc[metadata.index]
    counts = counts.loc[:, prefilter_mask(counts, 10, 3)]
    write_model(model_arrays(fit_model(counts, metadata, model.design)), tmp_path / "m.npz")
    fitted = read_model(tmp_path / "m.npz")
    assert fitted["obs__dose"].dtype == float and "levels__dose" not in fitted
    rebuilt = model_metadata(fitted)
    np.testing.assert_array_equal(rebuilt["dose"], metadata["dose"])
    table = contrast_table(fitted, vectors["per_unit_treated"], test="qlf")
    called = set(table.loc[table["padj"] < 0.05, "gene_id"])
    planted = {f"g{i:04d}" for i in range(100)}
    assert len(called & planted) >= 80 and len(called - planted) <= 0.1 * len(called)
    flat = contrast_table(fitted, vectors["per_unit_control"], test="qlf")
    assert (flat["padj"] < 0.05).sum() <= 5  # no slope without treatment


R_DOSE = """
suppressMessages(library(DESeq2))
counts <- as.matrix(read.delim("{counts}", row.names = 1, check.names = FALSE))
s <- read.delim("{samples}")
s$condition <- relevel(factor(s$condition), "control")
s$dose <- as.numeric(s$dose)
rownames(s) <- s$sample
dds <- DESeqDataSetFromMatrix(counts[, s$sample], s, ~ condition * dose)
dds <- DESeq(dds, quiet = TRUE)
out <- list()
vectors <- list(per_unit_control = c(0, 0, 1, 0), per_unit_treated = c(0, 0, 1, 1))
for (name in names(vectors)) {{
  res <- results(dds, contrast = vectors[[name]], alpha = 0.05)
  out[[name]] <- data.frame(contrast = name, gene_id = rownames(res), stat = res$stat,
                            padj = res$padj)
}}
write.table(do.call(rbind, out), "{out}", sep = "\\t", quote = FALSE, row.names = FALSE)
"""


@pytest.mark.rpeer
@pytest.mark.slow
def test_two_conditions_by_three_doses_match_deseq2(tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript not found")
    samples, counts = dose_experiment()
    models = parse_models(SPEC)
    model, contrasts = models["dose"], parse_contrasts(SPEC, models)
    metadata = model_samples(samples, model).loc[:, model.variables]
    helper = check_design(metadata, model)
    counts = counts.loc[metadata.index]
    counts = counts.loc[:, prefilter_mask(counts, 10, 3)]
    fitted = model_arrays(fit_model(counts, metadata, model.design))
    paths = {"counts": tmp_path / "counts.tsv", "samples": tmp_path / "samples.tsv"}
    counts.T.to_csv(paths["counts"], sep="\t", index_label="gene_id")
    samples.to_csv(paths["samples"], sep="\t", index=False)
    script = tmp_path / "dose.R"
    script.write_text(R_DOSE.format(**paths, out=tmp_path / "r.tsv"))
    run = subprocess.run([rscript, str(script)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-1500:]
    r = pd.read_csv(tmp_path / "r.tsv", sep="\t")
    for name in ("per_unit_control", "per_unit_treated"):
        vector = contrast_vector(helper, contrasts[name], model, metadata)
        ours = contrast_table(fitted, vector, test="wald").set_index("gene_id")
        theirs = r[r["contrast"] == name].set_index("gene_id").loc[ours.index]
        finite = np.isfinite(ours["stat"]) & np.isfinite(theirs["stat"])
        pearson = np.corrcoef(ours.loc[finite, "stat"], theirs.loc[finite, "stat"])[0, 1]
        a, b = set(ours.index[ours["padj"] < 0.05]), set(theirs.index[theirs["padj"] < 0.05])
        jaccard = len(a & b) / len(a | b) if a | b else 1.0
        print(f"\n{name}: Pearson stat {pearson:.6f}, Jaccard {jaccard:.3f} ({len(a)} vs {len(b)})")
        assert pearson >= 0.999 and jaccard >= 0.95
