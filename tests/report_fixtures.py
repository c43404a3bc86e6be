"""Deterministic, realistic-looking inputs for the report renderer (no files, no network).

``make_report_inputs()`` returns the keyword arguments of ``msc_secretome.report.render_report``:
12 samples (cell_type x medium x therapy, one replicate each), 500 genes and 4 contrasts by
default; ``make_report_inputs(n_genes=20_000, n_contrasts=14, n_reps=3)`` is the size test
(36 samples). Contrast 4 (``cancer_radiation_CM_vs_ctrl``) has no true effect and no gene with
padj < alpha, so the report must explain why.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from msc_secretome.verdict import DUAL_BENEFIT_COLUMNS

ALPHA = 0.05
NULL_CONTRAST = "cancer_radiation_CM_vs_ctrl"

# (name, kind, subset, description)
CONTRASTS = (
    (
        "cancer_chemo_CM_vs_ctrl",
        "compare",
        "cell_type=cancer; therapy=chemo",
        "Cancer cells under chemotherapy: conditioned medium vs control medium",
    ),
    (
        "normal_chemo_CM_vs_ctrl",
        "compare",
        "cell_type=normal; therapy=chemo",
        "Normal cells under chemotherapy: conditioned medium vs control medium",
    ),
    (
        "cancer_chemo_x_CM",
        "interaction",
        "cell_type=cancer",
        "Cancer cells: does conditioned medium change the response to chemotherapy?",
    ),
    (
        NULL_CONTRAST,
        "compare",
        "cell_type=cancer; therapy=radiation",
        "Cancer cells under radiation: conditioned medium vs control medium",
    ),
    (
        "normal_radiation_CM_vs_ctrl",
        "compare",
        "cell_type=normal; therapy=radiation",
        "Normal cells under radiation: conditioned medium vs control medium",
    ),
    (
        "cancer_radiation_x_CM",
        "interaction",
        "cell_type=cancer",
        "Cancer cells: does conditioned medium change the response to radiation?",
    ),
    (
        "normal_chemo_x_CM",
        "interaction",
        "cell_type=normal",
        "Normal cells: does conditioned medium change the response to chemotherapy?",
    ),
    (
        "normal_radiation_x_CM",
        "interaction",
        "cell_type=normal",
        "Normal cells: does conditioned medium change the response to radiation?",
    ),
    (
        "cancer_none_CM_vs_ctrl",
        "compare",
        "cell_type=cancer; therapy=none",
        "Untreated cancer cells: conditioned medium vs control medium",
    ),
    (
        "normal_none_CM_vs_ctrl",
        "compare",
        "cell_type=normal; therapy=none",
        "Untreated normal cells: conditioned medium vs control medium",
    ),
    (
        "cancer_chemo_vs_none",
        "compare",
        "cell_type=cancer; medium=control",
        "Cancer cells in control medium: chemotherapy vs untreated",
    ),
    (
        "cancer_radiation_vs_none",
        "compare",
        "cell_type=cancer; medium=control",
        "Cancer cells in control medium: radiation vs untreated",
    ),
    (
        "normal_chemo_vs_none",
        "compare",
        "cell_type=normal; medium=control",
        "Normal cells in control medium: chemotherapy vs untreated",
    ),
    (
        "cancer_vs_normal_ctrl",
        "compare",
        "medium=control; therapy=none",
        "Untreated cells in control medium: cancer vs normal",
    ),
)

# (programme, category, tier, genes)
PROGRAMMES = (
    ("CYT_APOPTOSIS_INTRINSIC", "cytotoxic", "core", "BAX;BAK1;BBC3;PMAIP1;CASP9;APAF1;CYCS"),
    ("CYT_APOPTOSIS_EXTRINSIC", "cytotoxic", "core", "FAS;FASLG;TNFRSF10B;CASP8;FADD;BID"),
    ("CYT_FERROPTOSIS", "cytotoxic", "core", "ACSL4;ALOX15;TFRC;NCOA4;SAT1;PTGS2"),
    ("CYT_NECROPTOSIS", "cytotoxic", "extended", "RIPK1;RIPK3;MLKL;ZBP1"),
    ("STRESS_DNA_DAMAGE_RESPONSE", "stress_damage", "core", "CDKN1A;GADD45A;MDM2;ATM;H2AX"),
    ("STRESS_P53_SENESCENCE", "stress_damage", "core", "TP53;CDKN2A;SERPINE1;IL1A;GLB1"),
    ("STRESS_OXIDATIVE", "stress_damage", "core", "HMOX1;TXNIP;DDIT3;ATF3;ATF4"),
    ("STRESS_INFLAMMATION_NFKB", "stress_damage", "extended", "NFKBIA;TNF;IL1B;CXCL8;RELB"),
    ("REG_PROLIFERATION_REPAIR", "regenerative_protective", "core", "MKI67;CCND1;PCNA;RAD51"),
    ("REG_ANTIOXIDANT_NRF2", "regenerative_protective", "core", "NQO1;GCLM;TXNRD1;SLC7A11"),
    ("REG_ANTI_APOPTOSIS", "regenerative_protective", "core", "BCL2;BCL2L1;MCL1;BIRC5;XIAP"),
    ("REG_ECM_WOUND_HEALING", "regenerative_protective", "extended", "COL1A1;FN1;TGFB1;MMP2"),
    ("RISK_IL6_JAK_STAT3", "pro_tumour_risk", "core", "IL6;JAK1;STAT3;SOCS3;OSMR"),
    ("RISK_EMT", "pro_tumour_risk", "core", "VIM;SNAI2;ZEB1;TWIST1;CDH2"),
    ("RISK_ANGIOGENESIS", "pro_tumour_risk", "core", "VEGFA;KDR;ANGPT2;HIF1A"),
    ("RISK_STEMNESS", "pro_tumour_risk", "extended", "SOX2;POU5F1;NANOG;ALDH1A1;PROM1"),
)

# Designed programme effects (contrast, programme) -> NES; everything else is noise.
DESIGNED_NES = {
    ("cancer_chemo_CM_vs_ctrl", "CYT_APOPTOSIS_INTRINSIC"): 2.31,
    ("cancer_chemo_CM_vs_ctrl", "CYT_FERROPTOSIS"): 1.92,
    ("cancer_chemo_CM_vs_ctrl", "RISK_IL6_JAK_STAT3"): 2.05,
    ("normal_chemo_CM_vs_ctrl", "REG_ANTIOXIDANT_NRF2"): 2.12,
    ("normal_chemo_CM_vs_ctrl", "STRESS_DNA_DAMAGE_RESPONSE"): -2.21,
    ("cancer_chemo_x_CM", "CYT_APOPTOSIS_INTRINSIC"): 1.74,
    ("normal_radiation_CM_vs_ctrl", "REG_PROLIFERATION_REPAIR"): 1.88,
    ("normal_radiation_CM_vs_ctrl", "STRESS_OXIDATIVE"): 1.81,
    ("cancer_vs_normal_ctrl", "REG_PROLIFERATION_REPAIR"): 2.6,
}

HALLMARKS = tuple(
    f"HALLMARK_{t}"
    for t in (
        "APOPTOSIS",
        "P53_PATHWAY",
        "TNFA_SIGNALING_VIA_NFKB",
        "INFLAMMATORY_RESPONSE",
        "IL6_JAK_STAT3_SIGNALING",
        "HYPOXIA",
        "E2F_TARGETS",
        "G2M_CHECKPOINT",
        "MYC_TARGETS_V1",
        "OXIDATIVE_PHOSPHORYLATION",
        "EPITHELIAL_MESENCHYMAL_TRANSITION",
        "ANGIOGENESIS",
        "DNA_REPAIR",
        "UNFOLDED_PROTEIN_RESPONSE",
        "REACTIVE_OXYGEN_SPECIES_PATHWAY",
        "INTERFERON_GAMMA_RESPONSE",
        "GLYCOLYSIS",
        "MTORC1_SIGNALING",
        "KRAS_SIGNALING_UP",
        "XENOBIOTIC_METABOLISM",
    )
)


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg on non-NaN p-values."""
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    n = len(q)
    if n == 0:
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order] * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty(n)
    adj[order] = np.minimum(ranked, 1.0)
    out[ok] = adj
    return out


def _samples(n_reps: int) -> pd.DataFrame:
    rows = []
    combos = list(
        itertools.product(("cancer", "normal"), ("control", "CM"), ("none", "chemo", "radiation"))
    )
    for rep in range(1, n_reps + 1):
        for i, (cell, medium, therapy) in enumerate(combos):
            rows.append(
                {
                    "sample": f"{cell[:2].upper()}_{medium}_{therapy}_r{rep}",
                    "cell_type": cell,
                    "medium": medium,
                    "therapy": therapy,
                    "batch": f"b{(i + rep) % 2 + 1}",
                }
            )
    return pd.DataFrame(rows)


def _symbols(n_genes: int) -> list[Any]:
    known = []
    for _, _, _, genes in PROGRAMMES:
        for g in genes.split(";"):
            if g not in known:
                known.append(g)
    out: list[Any] = []
    for i in range(n_genes):
        out.append(known[i] if i < len(known) else f"GENE{i:05d}")
    if n_genes > 100:
        out[100] = np.nan  # a gene without a symbol: hover falls back to gene_id
    return out


def _de_table(rng: np.random.Generator, base: pd.DataFrame, null: bool) -> pd.DataFrame:
    n = len(base)
    base_mean = base["baseMean"].to_numpy()
    se = 0.15 + 1.2 / np.sqrt(base_mean + 1.0)
    true = np.zeros(n)
    if not null:
        hits = rng.random(n) < 0.08
        true[hits] = rng.choice([-1.0, 1.0], hits.sum()) * rng.normal(1.6, 0.5, hits.sum())
    lfc = true + rng.normal(0.0, se)
    stat = lfc / se
    pvalue = 2 * norm.sf(np.abs(stat))
    if null:  # pure noise: uniform p-values, and no gene may pass
        pvalue = rng.random(n)
        stat = np.sign(lfc) * norm.isf(pvalue / 2)
        lfc = stat * se
    filtered = base_mean < 4.0
    p_for_bh = np.where(filtered, np.nan, pvalue)
    padj = _bh(p_for_bh)
    if null:
        padj = np.where(np.isnan(padj), np.nan, np.maximum(padj, 0.31))
    return pd.DataFrame(
        {
            "gene_id": base["gene_id"],
            "symbol": base["symbol"],
            "baseMean": base_mean,
            "log2FoldChange": lfc,
            "lfcSE": se,
            "stat": stat,
            "pvalue": pvalue,
            "padj": padj,
        }
    )


def _enrichment(rng: np.random.Generator, contrast: str) -> pd.DataFrame:
    rows = []
    for programme, _cat, _tier, genes in PROGRAMMES:
        nes = DESIGNED_NES.get((contrast, programme))
        if nes is None:
            nes = float(np.round(rng.normal(0, 0.7), 3))
            fdr = float(np.round(min(1.0, 0.3 + rng.random() * 0.7), 4))
        else:
            fdr = float(np.round(0.001 + rng.random() * 0.02, 4))
        gene_list = genes.split(";")
        lead = gene_list[: max(2, len(gene_list) - 2)]
        rows.append(
            {
                "library": "programmes",
                "term": programme,
                "ES": round(nes / 3.2, 4),
                "NES": nes,
                "pvalue": round(fdr / 4, 5),
                "fdr": fdr,
                "size": len(gene_list),
                "leading_edge": ";".join(lead),
            }
        )
    for library, terms in (
        ("hallmark", HALLMARKS),
        ("go_bp", tuple(f"GOBP_TERM_{i:03d}" for i in range(25))),
    ):
        for term in terms:
            nes = float(np.round(rng.normal(0, 1.3), 3))
            fdr = float(np.round(min(1.0, rng.random() ** 2), 4))
            rows.append(
                {
                    "library": library,
                    "term": term,
                    "ES": round(nes / 3.2, 4),
                    "NES": nes,
                    "pvalue": round(fdr / 3, 5),
                    "fdr": fdr,
                    "size": int(rng.integers(15, 300)),
                    "leading_edge": ";".join(f"GENE{int(g):05d}" for g in rng.integers(0, 500, 8)),
                }
            )
    return pd.DataFrame(rows)


def _programme_calls(enrichment: dict[str, pd.DataFrame]) -> pd.DataFrame:
    info = {p: (c, t) for p, c, t, _ in PROGRAMMES}
    rows = []
    for contrast, table in enrichment.items():
        for r in table[table["library"] == "programmes"].to_dict("records"):
            cat, tier = info[r["term"]]
            call = "ns"
            if r["fdr"] < ALPHA:
                call = "up" if r["NES"] > 0 else "down"
            rows.append(
                {
                    "contrast": contrast,
                    "programme": r["term"],
                    "category": cat,
                    "tier": tier,
                    "NES": r["NES"],
                    "fdr": r["fdr"],
                    "call": call,
                    "leading_edge": r["leading_edge"],
                }
            )
    return pd.DataFrame(rows)


def _count(calls: pd.DataFrame, contrast: str, category: str, call: str) -> int:
    if not contrast:
        return 0
    sel = calls[
        (calls["contrast"] == contrast)
        & (calls["category"] == category)
        & (calls["call"] == call)
        & (calls["tier"] == "core")
    ]
    return len(sel)


def _names(calls: pd.DataFrame, contrast: str, category: str, call: str) -> list[str]:
    """Programmes of a category called ``call`` in a contrast (all tiers), sorted."""
    hit = calls[
        (calls["contrast"] == contrast) & (calls["category"] == category) & (calls["call"] == call)
    ]
    return sorted(hit["programme"].astype(str).unique())


def _dual_benefit(calls: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    rows = []
    for therapy in ("chemo", "radiation"):
        cancer = f"cancer_{therapy}_CM_vs_ctrl"
        pot = f"cancer_{therapy}_x_CM"
        normal = f"normal_{therapy}_CM_vs_ctrl"
        cancer, pot, normal = (c if c in names else "" for c in (cancer, pot, normal))
        cyt = _count(calls, cancer, "cytotoxic", "up")
        prot = _count(calls, normal, "regenerative_protective", "up")
        dmg = _count(calls, normal, "stress_damage", "down")
        risk_c = calls[
            (calls["contrast"] == cancer)
            & (calls["category"] == "pro_tumour_risk")
            & (calls["call"] == "up")
        ]["programme"].tolist()
        risk_n = calls[
            (calls["contrast"] == normal)
            & (calls["category"] == "stress_damage")
            & (calls["call"] == "up")
        ]["programme"].tolist()
        flags = sorted(risk_c + risk_n)
        if not (cancer and normal):
            verdict = "incomplete"
        elif cyt > 0 and (prot + dmg) > 0:
            verdict = "dual_benefit"
        elif cyt == 0 and prot + dmg == 0:
            verdict = "no_dual_benefit"
        else:
            verdict = "unclear"
        explanation = {
            "dual_benefit": "Cytotoxic programmes rose in cancer cells and normal cells were "
            "protected, with one pro-tumour risk programme to watch.",
            "incomplete": "The normal-cell or interaction contrast for this therapy is missing "
            "from the design, so no verdict can be given.",
            "unclear": "Only one of the two benefits was seen.",
            "no_dual_benefit": "Neither benefit was seen.",
        }[verdict]
        rows.append(
            {
                "therapy": therapy,
                "cancer_contrast": cancer,
                "potentiation_contrast": pot,
                "normal_contrast": normal,
                "cancer_gain": round(0.42 * cyt, 3) if cancer else np.nan,
                "potentiation": 1.74 if pot == "cancer_chemo_x_CM" else np.nan,
                "normal_protection": round(0.35 * (prot + dmg), 3) if normal else np.nan,
                "cytotoxic_up": cyt,
                "protective_up": prot,
                "damage_down": dmg,
                "adverse_cancer": len(risk_c),
                "adverse_normal": len(risk_n),
                "verdict": verdict,
                "risk_flags": ";".join(flags),
                "cancer_evidence": ";".join(_names(calls, cancer, "cytotoxic", "up")),
                "normal_evidence": ";".join(
                    sorted(
                        _names(calls, normal, "regenerative_protective", "up")
                        + _names(calls, normal, "stress_damage", "down")
                    )
                ),
                "explanation": explanation,
                # the study-design columns (#13), as msc_secretome.verdict writes them
                "receiver_group": "cancer + normal",
                "cancer_group": "cancer",
                "normal_group": "normal",
                "exposure": "CM",
                "control": "ctrl",
                "design_answer": "dual_benefit",
                "not_measured": "",
                "summary": f"CM vs ctrl, next to {therapy}: does the secretome kill cancer cells "
                f"more and protect normal cells; verdict {verdict}.",
                "design_summary": DESIGN_SUMMARY,
                **STABILITY[therapy],
            }
        )
    table = pd.DataFrame(rows, columns=DUAL_BENEFIT_COLUMNS)
    assert not set(rows[0]) ^ set(DUAL_BENEFIT_COLUMNS), "fixture out of the verdict's layout"
    return table


DESIGN_SUMMARY = (
    "12 samples; cancer cells: cancer; normal cells: normal; exposure(s) CM vs ctrl; therapy: "
    "chemo, radiation vs none. This design answers the dual-benefit question and the "
    "secretome's effect next to each therapy arm."
)
#: chemo's verdict holds in every leave-one-out refit, radiation's rests on one replicate.
STABILITY = {
    "chemo": {
        "stability": 1.0,
        "stability_refits": 6,
        "flipped_programmes": "",
        "unstable_when": "",
    },
    "radiation": {
        "stability": 0.5,
        "stability_refits": 6,
        "flipped_programmes": "CYT_FERROPTOSIS",
        "unstable_when": "sample=CA_CM_radiation_r1;sample=NO_CM_radiation_r1;sample=CA_CM_r1",
    },
}


# Programmes whose leading edges overlap in a contrast (one overlap group of two).
OVERLAP_CONTRAST = "cancer_chemo_CM_vs_ctrl"
OVERLAP_PROGRAMMES = ("CYT_APOPTOSIS_INTRINSIC", "CYT_FERROPTOSIS")
# A programme with a designed per-sample score shift (higher in cancer cells in CM).
SCORED_PROGRAMME = "CYT_APOPTOSIS_INTRINSIC"


def _overlap_groups(calls: pd.DataFrame) -> pd.DataFrame:
    """overlap_group: each called programme its own group, except OVERLAP_PROGRAMMES together."""
    out = calls.copy()
    called = out["call"].isin(["up", "down"])
    out["overlap_group"] = np.where(called, out["programme"], "")
    both = (
        (out["contrast"] == OVERLAP_CONTRAST) & out["programme"].isin(OVERLAP_PROGRAMMES) & called
    )
    if both.sum() == len(OVERLAP_PROGRAMMES):
        out.loc[both, "overlap_group"] = OVERLAP_PROGRAMMES[0]
    return out


def _sample_scores(rng: np.random.Generator, samples: pd.DataFrame) -> pd.DataFrame:
    """Raw per-sample programme scores (ssGSEA-like scale), one column per programme."""
    scores = pd.DataFrame({"sample": samples["sample"]})
    boost = ((samples["cell_type"] == "cancer") & (samples["medium"] == "CM")).to_numpy()
    for programme, _cat, _tier, _genes in PROGRAMMES:
        values = rng.normal(1500.0, 250.0, len(samples))
        if programme == SCORED_PROGRAMME:
            values = values + 900.0 * boost
        scores[programme] = np.round(values, 3)
    return scores


def _ora(rng: np.random.Generator, de: pd.DataFrame) -> pd.DataFrame:
    """ORA rows (library, term, direction, overlap, size, background, pvalue, fdr, genes)."""
    background = int(pd.to_numeric(de["padj"], errors="coerce").notna().sum())
    sets = [("programmes", p, g.split(";")) for p, _c, _t, g in PROGRAMMES]
    sets += [
        ("hallmark", h, [f"GENE{i:05d}" for i in range(k, k + 40)])
        for k, h in enumerate(HALLMARKS[:6])
    ]
    rows = []
    for direction in ("up", "down"):
        for library, term, genes in sets:
            overlap = int(rng.integers(0, min(len(genes), 6) + 1))
            pvalue = float(np.round(rng.random() ** (1 + 3 * overlap), 8)) if overlap else 1.0
            rows.append(
                {
                    "library": library,
                    "term": term,
                    "direction": direction,
                    "overlap": overlap,
                    "size": len(genes),
                    "background": background,
                    "pvalue": pvalue,
                    "genes": ";".join(sorted(genes[:overlap])),
                }
            )
    table = pd.DataFrame(rows)
    table["fdr"] = np.round(_bh(table["pvalue"].to_numpy()), 8)
    return table.loc[
        :,
        ["library", "term", "direction", "overlap", "size", "background", "pvalue", "fdr", "genes"],
    ]


def make_report_inputs(
    n_genes: int = 500, n_contrasts: int = 4, n_reps: int = 1, seed: int = 7
) -> dict[str, Any]:
    """Keyword arguments for ``render_report``; same arguments give equal inputs.

    Besides the required inputs it fills the optional ones: ``sample_scores``, ``ora``,
    ``gene_mapping`` and ``programme_gene_sets`` (drawn from a second generator, so the
    required inputs do not depend on them)."""
    rng = np.random.default_rng(seed)
    samples = _samples(n_reps)
    n = len(samples)
    # library sizes: one small library (an outlier by the 1/3-of-median rule)
    totals = np.round(rng.normal(2.4e7, 2.5e6, n)).astype(int)
    totals[5] = 5_200_000
    detected = np.round(0.6 * n_genes + rng.normal(0, 0.02 * n_genes, n)).astype(int)
    library_sizes = pd.DataFrame(
        {
            "sample": samples["sample"],
            "total_counts": totals,
            "detected_genes": detected,
            "size_factor": np.round(totals / np.median(totals), 4),
        }
    )
    # PCA: cell type dominates PC1, medium/therapy PC2/PC3
    cell = (samples["cell_type"] == "cancer").to_numpy() * 2 - 1
    medium = (samples["medium"] == "CM").to_numpy() * 2 - 1
    therapy = samples["therapy"].map({"none": -1, "chemo": 0, "radiation": 1}).to_numpy()
    pcs = np.column_stack(
        [
            22 * cell + rng.normal(0, 1.5, n),
            6 * medium + 2 * therapy + rng.normal(0, 1.2, n),
            4 * therapy + rng.normal(0, 1.0, n),
            rng.normal(0, 1.5, n),
        ]
    )
    pca = pd.DataFrame(np.round(pcs, 4), columns=["PC1", "PC2", "PC3", "PC4"])
    pca.insert(0, "sample", samples["sample"])
    var = (pcs**2).sum(axis=0)
    pca_variance = pd.DataFrame(
        {
            "component": ["PC1", "PC2", "PC3", "PC4"],
            "variance_ratio": np.round(var / var.sum() * 0.8, 4),
        }
    )
    diff = pcs[:, None, :] - pcs[None, :, :]
    dist = np.round(np.sqrt((diff**2).sum(axis=2)), 4)
    distances = pd.DataFrame(dist, index=samples["sample"], columns=samples["sample"])
    distances.index.name = "sample"

    base = pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}" for i in range(n_genes)],
            "symbol": _symbols(n_genes),
            "baseMean": np.round(rng.lognormal(4.5, 2.0, n_genes), 3),
        }
    )
    chosen = CONTRASTS[:n_contrasts]
    names = [c[0] for c in chosen]
    de = {}
    enrichment = {}
    rows = []
    for name, kind, subset, description in chosen:
        table = _de_table(rng, base, null=(name == NULL_CONTRAST))
        de[name] = table
        enrichment[name] = _enrichment(rng, name)
        model = "interaction" if kind == "interaction" else f"by_{subset.split('; ')[0]}"
        design = "~ batch + medium * therapy" if kind == "interaction" else "~ batch + medium"
        sel = samples
        for part in subset.split("; "):
            key, value = part.split("=")
            sel = sel[sel[key] == value]
        padj = table["padj"]
        rows.append(
            {
                "contrast": name,
                "model": model,
                "kind": kind,
                "description": description,
                "design": design,
                "subset": subset,
                "n_samples": len(sel),
                "n_up": int(((padj < ALPHA) & (table["log2FoldChange"] > 0)).sum()),
                "n_down": int(((padj < ALPHA) & (table["log2FoldChange"] < 0)).sum()),
                "alpha": ALPHA,
            }
        )
    contrasts = pd.DataFrame(rows)
    programme_calls = _overlap_groups(_programme_calls(enrichment))
    dual_benefit = _dual_benefit(programme_calls, names)
    n_programme_genes = sum(len(p[3].split(";")) for p in PROGRAMMES)
    libraries = pd.DataFrame(
        {
            "library": ["programmes", "hallmark", "go_bp"],
            "kind": ["catalogue", "gmt", "gmt"],
            "path": [
                "builtin:programme_catalogue.tsv",
                "resources/h.all.v2024.1.Hs.symbols.gmt",
                "resources/c5.go.bp.v2024.1.Hs.symbols.gmt",
            ],
            "sha256": [f"{i}" * 64 for i in (1, 2, 3)],
            "n_sets": [len(PROGRAMMES), 50, 7600],
            "n_genes": [n_programme_genes, 4380, 18000],
            "genes_in_data": [n_programme_genes, 3942, 15300],
            "coverage": [1.0, 0.9, 0.85],
        }
    )
    extra = np.random.default_rng(seed + 1000)
    sample_scores = _sample_scores(extra, samples)
    ora = {name: _ora(extra, de[name]) for name in names}
    gene_mapping = pd.DataFrame(
        {
            "key": ["id_type", "n", "n_mapped", "rate", "n_alias_resolved", "n_ambiguous_alias"],
            "value": [
                "ensembl",
                str(n_genes),
                str(n_genes - 1),
                f"{(n_genes - 1) / n_genes:.6g}",
                "3",
                "0",
            ],
        }
    )
    programme_gene_sets = {p: g.split(";") for p, _c, _t, g in PROGRAMMES}
    models = contrasts.drop_duplicates("model")[["model", "design", "subset", "n_samples"]].to_dict(
        "records"
    )
    methods = {
        "config": {
            "samples": "config/samples.tsv",
            "counts": "data/counts.tsv",
            "seed": 20240611,
            "de": {"alpha": ALPHA, "lfc_threshold": 0.0, "min_count": 10, "min_samples": 3},
            "gsea": {"permutations": 1000, "min_size": 10, "max_size": 500, "fdr": ALPHA},
            "libraries": {"hallmark": "resources/h.all.v2024.1.Hs.symbols.gmt"},
            "contrasts": {
                name: {"kind": kind, "subset": subset} for name, kind, subset, _ in chosen
            },
        },
        "versions": {
            "pydeseq2": "0.5.4",
            "gseapy": "1.3.1",
            "pandas": "2.3.3",
            "numpy": "2.4.6",
            "plotly": "7.1.0",
            "python": "3.11",
        },
        "inputs": [
            {"path": "data/counts.tsv", "sha256": "a" * 64},
            {"path": "config/samples.tsv", "sha256": "b" * 64},
        ],
        "workflow_version": "c31a7cb",
        "date": "2025-01-01T12:00:00+00:00",
        "models": models,
    }
    return {
        "samples": samples,
        "library_sizes": library_sizes,
        "pca": pca,
        "pca_variance": pca_variance,
        "distances": distances,
        "contrasts": contrasts,
        "de": de,
        "enrichment": enrichment,
        "programme_calls": programme_calls,
        "dual_benefit": dual_benefit,
        "libraries": libraries,
        "methods": methods,
        "sample_scores": sample_scores,
        "ora": ora,
        "gene_mapping": gene_mapping,
        "programme_gene_sets": programme_gene_sets,
    }


# --- single-cell runs ---------------------------------------------------------------------------

SC_CELL_TYPES = ("cancer", "normal", "fibroblast")
SC_CELLS_PER_TYPE = {"cancer": 45, "normal": 45, "fibroblast": 10}  # of every 100 cells
SC_MIN_CELLS = 20  # fibroblast pseudo-samples (10 cells) are dropped
SC_UMAP_CENTRES = {"cancer": (8.0, -2.0), "normal": (-4.0, -6.0), "fibroblast": (-3.0, 9.0)}


def _pseudo_name(bulk_name: str) -> str:
    """'CA_CM_chemo_r1' -> 'CM_chemo_r1__cancer' (sample x cell type)."""
    prefix, rest = bulk_name.split("_", 1)
    cell = {"CA": "cancer", "NO": "normal"}[prefix]
    return f"{rest}__{cell}"


def make_single_cell_report_inputs(
    n_cells_per_sample: int = 100, seed: int = 7, n_contrasts: int = 4
) -> dict[str, Any]:
    """``make_report_inputs`` as a single-cell run: 6 samples (medium x therapy) of cancer,
    normal and fibroblast cells (45/45/10 per 100 cells; 600 cells by default). The bulk
    fixture's 12 samples become the pseudo-samples ``{sample}__{cancer|normal}``; the
    fibroblast pseudo-samples have fewer than ``SC_MIN_CELLS`` cells and are dropped.
    ``single_cell`` holds ``cells`` (UMAP and one score column per programme; cancer cells in
    CM score higher on ``SCORED_PROGRAMME``), ``cell_qc`` and ``dropped``."""
    kw = make_report_inputs(n_contrasts=n_contrasts, seed=seed)
    rng = np.random.default_rng(seed + 2000)
    rename = {s: _pseudo_name(s) for s in kw["samples"]["sample"]}
    samples = kw["samples"].copy()
    samples["sample"] = samples["sample"].map(rename)
    samples["original_sample"] = samples["sample"].str.split("__").str[0]
    originals = list(dict.fromkeys(samples["original_sample"]))
    batch = {s: f"b{i % 2 + 1}" for i, s in enumerate(originals)}
    samples["batch"] = samples["original_sample"].map(batch)

    per_type = {
        ct: max(1, round(n * n_cells_per_sample / 100)) for ct, n in SC_CELLS_PER_TYPE.items()
    }
    info = samples.drop_duplicates("original_sample").set_index("original_sample")
    rows = []
    for orig in originals:
        k = 0
        for ct in SC_CELL_TYPES:
            cx, cy = SC_UMAP_CENTRES[ct]
            for _ in range(per_type[ct]):
                rows.append(
                    {
                        "cell": f"{orig}_cell{k:05d}",
                        "sample": orig,
                        "cell_type": ct,
                        "medium": info.at[orig, "medium"],
                        "therapy": info.at[orig, "therapy"],
                        "batch": batch[orig],
                        "UMAP1": cx + rng.normal(0, 1.5),
                        "UMAP2": cy + rng.normal(0, 1.0),
                    }
                )
                k += 1
    cells = pd.DataFrame(rows)
    boost = ((cells["cell_type"] == "cancer") & (cells["medium"] == "CM")).to_numpy()
    for programme, _cat, _tier, _genes in PROGRAMMES:
        values = rng.normal(0.0, 0.3, len(cells))
        if programme == SCORED_PROGRAMME:
            values = values + 0.8 * boost
        cells[programme] = np.round(values, 6)
    counts = cells.groupby(["sample", "cell_type"]).size()
    samples["n_cells"] = [
        int(counts[(o, c)])
        for o, c in zip(samples["original_sample"], samples["cell_type"], strict=True)
    ]
    samples = samples.loc[
        :, ["sample", "original_sample", "cell_type", "n_cells", "medium", "therapy", "batch"]
    ]
    kept = cells.groupby("sample").size().reindex(originals).to_numpy()
    failed = rng.integers(2, 9, size=(len(originals), 3))
    cell_qc = pd.DataFrame(
        {
            "sample": originals,
            "cells_in": kept + failed.max(axis=1) + 1,
            "cells_kept": kept,
            "median_genes": np.round(rng.normal(500, 10, len(originals)), 1),
            "median_counts": np.round(rng.normal(830, 20, len(originals)), 1),
            "median_mito_fraction": np.round(rng.normal(0.05, 0.003, len(originals)), 6),
            "failed_min_genes": failed[:, 0],
            "failed_min_counts": failed[:, 1],
            "failed_max_mito": failed[:, 2],
        }
    )
    dropped = pd.DataFrame(
        {
            "sample": [f"{o}__fibroblast" for o in originals],
            "original_sample": originals,
            "cell_type": "fibroblast",
            "n_cells": per_type["fibroblast"],
            "reason": f"fewer than {SC_MIN_CELLS} cells",
        }
    )

    def renamed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(sample=frame["sample"].map(rename))

    kw["samples"] = samples
    kw["library_sizes"] = renamed(kw["library_sizes"])
    kw["pca"] = renamed(kw["pca"])
    kw["sample_scores"] = renamed(kw["sample_scores"])
    distances = kw["distances"].rename(index=rename, columns=rename)
    distances.index.name = "sample"
    kw["distances"] = distances
    config = dict(kw["methods"]["config"])
    config["data_type"] = "single_cell"
    config["single_cell"] = {
        "min_cells": SC_MIN_CELLS,
        "embedding_cells": 20000,
        "qc": {"min_genes": 200, "min_counts": 300, "max_mito_fraction": 0.2},
    }
    config["roles"] = {
        "cell_type": {"column": "cell_type", "cancer": ["cancer"], "normal": ["normal"]},
        "exposure": {"column": "medium", "exposed": "CM", "control": "control"},
        "therapy": {"column": "therapy", "none": "none"},
    }
    kw["methods"] = dict(kw["methods"], config=config)
    kw["single_cell"] = {"cells": cells, "cell_qc": cell_qc, "dropped": dropped}
    return kw
