"""Every design a secretome lab uses runs through fit_model + contrast_results and recovers a
planted effect: additive with blocking, paired (donor), interaction, whole-experiment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_secretome.design import Contrast, Model, check_design, contrast_vector, model_samples
from msc_secretome.differential_expression import contrast_results, fit_model


def simulated(design_rows: pd.DataFrame, effects: dict, seed: int = 3, n_genes: int = 300):
    """NB counts; genes 0-29 get ``effects[(column, level)]`` log2 shifts."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(4, 9, n_genes)
    donor_shift = {d: rng.normal(0, 0.4, n_genes) for d in design_rows.get("donor", [])}
    log2 = np.tile(base, (len(design_rows), 1))
    for i, row in enumerate(design_rows.itertuples(index=False)):
        for (column, level), size in effects.items():
            if getattr(row, column) == level:
                log2[i, :30] += size
        if "donor" in design_rows:
            log2[i] += donor_shift[row.donor]
    mean = np.exp2(log2)
    counts = rng.negative_binomial(1 / 0.05, 1 / (1 + 0.05 * mean))
    return pd.DataFrame(
        counts, index=design_rows["sample"], columns=[f"g{i}" for i in range(n_genes)]
    )


def run(samples: pd.DataFrame, counts: pd.DataFrame, model: Model, contrast: Contrast):
    metadata = model_samples(samples, model).loc[:, model.variables]
    vector = contrast_vector(check_design(metadata, model), contrast, model, metadata)
    dds = fit_model(counts.loc[metadata.index], metadata, model.design)
    return contrast_results(dds, vector, alpha=0.05)


def test_paired_donor_design_recovers_the_medium_effect():
    rows = [(f"d{d}_{m}", f"d{d}", m) for d in range(1, 5) for m in ("control", "msc_cm")]
    samples = pd.DataFrame(rows, columns=["sample", "donor", "medium"])
    counts = simulated(samples, {("medium", "msc_cm"): 1.5})
    model = Model("paired", "~ donor + medium", {}, {"medium": "control"})
    table = run(
        samples,
        counts,
        model,
        Contrast("c", "paired", "compare", (("medium", "msc_cm", "control"),)),
    )
    hits = table[table["padj"] < 0.05]
    assert hits["gene_id"].isin([f"g{i}" for i in range(30)]).mean() > 0.9
    assert (table.iloc[:30]["log2FoldChange"].median()) == pytest.approx(1.5, abs=0.3)


def test_whole_experiment_fit_with_cell_type_in_the_design():
    rows = [
        (f"{c}_{m}_{r}", c, m, f"b{r}")
        for c in ("cancer", "normal") for m in ("control", "msc_cm") for r in (1, 2, 3)
    ]  # fmt: skip
    samples = pd.DataFrame(rows, columns=["sample", "cell_type", "medium", "batch"])
    rng_effect = {("medium", "msc_cm"): 0.0}
    counts = simulated(samples, rng_effect)
    # plant the CM effect in cancer cells only
    cancer_cm = (samples["cell_type"] == "cancer") & (samples["medium"] == "msc_cm")
    counts.loc[cancer_cm.to_numpy(), [f"g{i}" for i in range(30)]] *= 3
    model = Model(
        "all", "~ batch + cell_type * medium", {}, {"medium": "control", "cell_type": "cancer"}
    )
    compare = (("medium", "msc_cm", "control"),)
    cancer = run(
        samples, counts, model, Contrast("a", "all", "compare", compare, {"cell_type": "cancer"})
    )
    normal = run(
        samples, counts, model, Contrast("b", "all", "compare", compare, {"cell_type": "normal"})
    )
    assert cancer.iloc[:30]["log2FoldChange"].median() == pytest.approx(np.log2(3), abs=0.3)
    assert abs(normal.iloc[:30]["log2FoldChange"].median()) < 0.3
    assert (cancer["padj"] < 0.05).sum() >= 20 and (normal["padj"] < 0.05).sum() <= 3
