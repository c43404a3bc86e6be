"""Linking secreted ligands through receptors and pathways to the programmes they switch on.

For each secretome contrast (role ``secretome_effect`` or ``potentiation``, side cancer or
normal) and each ligand in the secretome, the chain is checked link by link:

1. the ligand has receptor(s) in the ligand-receptor resource (else ``no_receptor_in_resource``);
2. at least one receptor (all subunits of a complex) is expressed in the receiver group
   (else ``receptor_not_expressed``: such a ligand is *never* ranked);
3. the ligand signals through a pathway with a footprint: the curated pathways of the factor
   table, else those of its expressed receptors (``receptor_pathways.tsv``; else
   ``no_pathway_footprint``);
4. that pathway is active in the contrast (FDR below the threshold, else ``pathway_not_active``)
   in the direction the ligand drives it (else ``pathway_opposite``).

Ligands passing all four are ``ranked``: first those whose pathway also moved a called
programme the same way (``pathway_programmes.tsv``), then by pathway FDR, then by |score|;
ligands with identical evidence (the same pathway activity) share a rank (1, 1, 3, ...): the
footprint cannot tell them apart.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .ligand_receptor import complex_expressed
from .secretome_inputs import parse_pathways
from .tables import read_table

LINK_COLUMNS = [
    "contrast", "side", "therapy", "role", "ligand", "factor", "in_secretome", "abundance",
    "log2_fold_change", "receptors", "receptors_expressed", "receptor_evidence",
    "signalling_receptors", "pathways",
    "pathway", "pathway_score", "pathway_pvalue", "pathway_fdr", "pathway_evidence",
    "consistent_programmes", "status", "rank", "chain",
]  # fmt: skip
FACTOR_COLUMNS = ["contrast", "side", "therapy", "role", "rank", "ligand", "factor",
                  "signalling_receptors", "pathway", "direction", "consistent_programmes",
                  "chain"]  # fmt: skip
SECRETOME_ROLES = ("secretome_effect", "potentiation")


def _data_table(name: str) -> pd.DataFrame:
    return read_table(Path(str(resources.files("msc_secretome") / "data" / name)))


def receptor_pathway_map() -> dict[str, list[str]]:
    """Receptor gene -> PROGENy pathways it signals into (built-in curated map)."""
    table = _data_table("receptor_pathways.tsv")
    return table.groupby("receptor")["pathway"].apply(list).to_dict()


def pathway_programme_map() -> dict[str, list[str]]:
    """PROGENy pathway -> catalogue programmes that move with it (built-in curated map)."""
    table = _data_table("pathway_programmes.tsv")
    return table.groupby("pathway")["programme"].apply(list).to_dict()


def link_ligands(
    ligands: pd.DataFrame,
    pairs: pd.DataFrame,
    expression: pd.DataFrame,
    activity: pd.DataFrame,
    calls: pd.DataFrame,
    contrast_roles: pd.DataFrame,
    *,
    fdr: float = 0.05,
    receptor_pathways: dict[str, list[str]] | None = None,
    pathway_programmes: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """One row per secretome contrast x ligand with every link of the chain and a rank.

    Parameters
    ----------
    ligands : :func:`msc_secretome.secretome_inputs.secretome_ligands` (one row per ligand)
    pairs : ligand-receptor pairs (ligand, receptor)
    expression : :func:`msc_secretome.ligand_receptor.receptor_expression`; its ``group`` is
        the contrast's side (``cancer``/``normal``)
    activity : :func:`msc_secretome.pathway_activity.contrast_pathway_activity`
    calls : programme calls (contrast, programme, call)
    contrast_roles : contrast, side, therapy, role (``results/de/contrasts.tsv``)
    fdr : pathway FDR below which a pathway counts as active

    Returns
    -------
    pandas.DataFrame
        columns :data:`LINK_COLUMNS`; ``rank`` is 1, 2, ... among ``ranked`` ligands of a
        contrast and missing (<NA>) otherwise. Sorted by contrast, rank, ligand.
    """
    receptor_pathways = receptor_pathways or receptor_pathway_map()
    pathway_programmes = pathway_programmes or pathway_programme_map()
    receptors_of = pairs.groupby("ligand")["receptor"].apply(sorted).to_dict()
    by_group = {
        group: {r.gene: (r.mean_normalised, bool(r.expressed)) for r in block.itertuples()}
        for group, block in expression.groupby("group")
    }
    activity_of = {(r.contrast, r.pathway): r for r in activity.itertuples(index=False)}
    call_of = {(r.contrast, r.programme): r.call for r in calls.itertuples(index=False)}
    rows = []
    # receptors are judged in the contrast's own receiver group (a named cell line, organoid
    # or normal cell type); tables without receiver groups fall back to the side
    if "receiver_group" not in contrast_roles.columns:
        contrast_roles = contrast_roles.assign(receiver_group=contrast_roles["side"])
    roles = contrast_roles[
        contrast_roles["role"].isin(SECRETOME_ROLES)
        & contrast_roles["receiver_group"].astype(str).isin(by_group)
    ]
    for role in roles.itertuples(index=False):
        genes = by_group[str(role.receiver_group)]
        for ligand in ligands.itertuples(index=False):
            row = _link_one(
                ligand, receptors_of.get(ligand.ligand, []), genes, role, activity_of,
                call_of, fdr, receptor_pathways, pathway_programmes,
            )  # fmt: skip
            rows.append(row)
    table = pd.DataFrame(rows, columns=LINK_COLUMNS)
    return _rank(table)


def _link_one(ligand, receptors, genes, role, activity_of, call_of, fdr, rec_map, prog_map):
    row = dict.fromkeys(LINK_COLUMNS, "")
    row.update(
        contrast=role.contrast, side=role.side, therapy=role.therapy, role=role.role,
        ligand=ligand.ligand, factor=ligand.factor, in_secretome=ligand.in_secretome,
        abundance=ligand.abundance, log2_fold_change=ligand.log2_fold_change,
        receptors=";".join(receptors), pathway_score=np.nan, pathway_pvalue=np.nan,
        pathway_fdr=np.nan, rank=pd.NA,
    )  # fmt: skip
    expressed, evidence = [], []
    for receptor in receptors:
        mean, ok = complex_expressed(receptor, genes)
        evidence.append(f"{receptor} {mean:.3g}{'' if ok else ' (not expressed)'}")
        if ok:
            expressed.append(receptor)
    row["receptors_expressed"] = ";".join(expressed)
    row["receptor_evidence"] = "; ".join(evidence)
    curated = parse_pathways(ligand.curated_pathways)
    if curated:
        pathways = curated
    else:
        subunits = {s for r in expressed for s in r.split("_")}
        pathways = sorted({(p, 1) for s in subunits for p in rec_map.get(s, [])})
    row["pathways"] = ";".join(f"{p}:{s:+d}" for p, s in pathways)
    if not receptors:
        row["status"] = "no_receptor_in_resource"
        return row
    if not expressed:
        row["status"] = "receptor_not_expressed"
        return row
    measured = [(p, s, activity_of.get((role.contrast, p))) for p, s in pathways]
    measured = [(p, s, a) for p, s, a in measured if a is not None and np.isfinite(a.score)]
    if not measured:
        row["status"] = "no_pathway_footprint"
        return row
    row["pathway_evidence"] = "; ".join(
        f"{p} {a.score:+.3g} (FDR {a.fdr:.2g})" for p, _, a in measured
    )
    active = [(p, s, a) for p, s, a in measured if a.fdr < fdr]
    agreeing = [(p, s, a) for p, s, a in active if np.sign(a.score) == s]
    if not active:
        best = min(measured, key=lambda m: m[2].fdr)
        row["status"] = "pathway_not_active"
    elif not agreeing:
        best = min(active, key=lambda m: m[2].fdr)
        row["status"] = "pathway_opposite"
    else:
        best = min(agreeing, key=lambda m: (m[2].fdr, -abs(m[2].score)))
        row["status"] = "ranked"
    pathway, sign, act = best
    row.update(pathway=pathway, pathway_score=act.score, pathway_pvalue=act.pvalue,
               pathway_fdr=act.fdr)  # fmt: skip
    if row["status"] != "ranked":
        return row
    consistent = []
    for p, _, a in agreeing:
        word = "up" if a.score > 0 else "down"
        consistent += [
            f"{prog} {word}"
            for prog in prog_map.get(p, [])
            if call_of.get((role.contrast, prog)) == word
        ]
    row["consistent_programmes"] = ";".join(dict.fromkeys(consistent))
    signalling = _signalling_receptors(expressed, pathway, genes, rec_map)
    row["signalling_receptors"] = ";".join(signalling)
    receptor = ", ".join(signalling)
    direction = "up" if act.score > 0 else "down"
    programmes = ", ".join(dict.fromkeys(consistent)) or "no called programme"
    row["chain"] = (
        f"{ligand.factor} -> {receptor} expressed -> {pathway} pathway {direction} -> "
        f"{programmes} in {role.receiver_group} cells"
    )
    return row


def _signalling_receptors(expressed, pathway, genes, rec_map) -> list[str]:
    """The expressed receptors known to signal into ``pathway``, else the most expressed one."""
    into = [r for r in expressed if any(pathway in rec_map.get(s, []) for s in r.split("_"))]
    if into:
        return sorted(into)
    return [max(expressed, key=lambda r: complex_expressed(r, genes)[0])]


def _rank(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["rank"] = pd.array([pd.NA] * len(table), dtype="Int64")
    ranked = table["status"] == "ranked"
    key = pd.DataFrame(
        {
            "contrast": table["contrast"],
            "no_programme": (table["consistent_programmes"] == "").astype(int),
            "fdr": table["pathway_fdr"],
            "neg_abs": -table["pathway_score"].abs(),
            "ligand": table["ligand"],
        }
    )[ranked]
    key = key.sort_values(["contrast", "no_programme", "fdr", "neg_abs", "ligand"])
    key["position"] = key.groupby("contrast").cumcount() + 1
    # Ligands with the same evidence (e.g. FGF2 and HGF through the same MAPK activity) tie.
    tie = key.groupby(["contrast", "no_programme", "fdr", "neg_abs"])["position"]
    table.loc[key.index, "rank"] = tie.transform("min").to_numpy()
    table["_r"] = table["rank"].fillna(10**9)
    table = table.sort_values(["contrast", "_r", "ligand"], ignore_index=True)
    return table.drop(columns="_r")[LINK_COLUMNS]


def verdict_factors(links: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """The ranked ligands per secretome contrast (at most ``top``), for the verdict cards.

    Returns
    -------
    pandas.DataFrame
        columns :data:`FACTOR_COLUMNS`, one row per contrast x ranked ligand (rank <= top).
    """
    ranked = links[links["rank"].notna() & (links["rank"] <= top)].copy()
    ranked["direction"] = np.where(ranked["pathway_score"] > 0, "up", "down")
    return ranked[FACTOR_COLUMNS].reset_index(drop=True)


def methods_table(entries: dict[str, object]) -> pd.DataFrame:
    """Key/value methods rows (resource names, versions, checksums, thresholds)."""
    return pd.DataFrame({"key": list(entries), "value": [str(v) for v in entries.values()]})
