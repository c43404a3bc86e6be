"""Programme calls per contrast, and the role of each contrast in the study's question.

The verdict built from the calls lives in :mod:`msc_secretome.verdict`. Its two sides:

* cancer side: does the secretome raise cytotoxic programmes in cancer cells under a therapy
  (``cancer_gain``), and does it raise them *more* under the therapy than without it
  (``potentiation``, from the interaction contrast)?
* normal side: does it raise protective/regenerative programmes and lower stress/damage
  programmes in normal cells under the same therapy (``normal_protection``)?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .roles import contrast_role, parse_roles

CALL_COLUMNS = ["contrast", "programme", "category", "tier", "NES", "fdr", "call", "leading_edge"]


def programme_calls(
    enrichment: dict[str, pd.DataFrame],
    catalogue: pd.DataFrame,
    *,
    fdr: float,
    library: str = "programmes",
) -> pd.DataFrame:
    """One row per contrast x catalogue programme: NES, FDR, call (up/down/ns/not_tested).

    A ``library`` column in ``catalogue`` (programmes made from GMT libraries,
    :func:`msc_secretome.programme_definitions.catalogue_from_libraries`) names each
    programme's library; otherwise every programme is looked up in ``library``.
    """
    rows = []
    per_row = (
        list(catalogue["library"]) if "library" in catalogue.columns else [library] * len(catalogue)
    )
    for contrast, table in enrichment.items():
        by_library = {
            name: rows_.set_index("term") for name, rows_ in table.groupby("library", sort=False)
        }
        empty = table.iloc[0:0].set_index("term")
        for programme, programme_library in zip(
            catalogue.itertuples(index=False), per_row, strict=True
        ):
            hits = by_library.get(programme_library, empty)
            if programme.programme in hits.index:
                hit = hits.loc[programme.programme]
                nes, q = float(hit["NES"]), float(hit["fdr"])
                call = ("up" if nes > 0 else "down") if q < fdr else "ns"
                edge = str(hit["leading_edge"])
            else:
                nes, q, call, edge = np.nan, np.nan, "not_tested", ""
            rows.append(
                (
                    contrast,
                    programme.programme,
                    programme.category,
                    programme.tier,
                    nes,
                    q,
                    call,
                    edge,
                )
            )
    return pd.DataFrame(rows, columns=CALL_COLUMNS)


def add_overlap_groups(calls: pd.DataFrame, min_jaccard: float = 0.5) -> pd.DataFrame:
    """Add ``overlap_group``: called programmes of one contrast whose leading edges overlap.

    Within each contrast, programmes called up or down are linked when the Jaccard index of
    their leading-edge genes is at least ``min_jaccard`` (single linkage); the group is named
    by its first programme in sorted order. Programmes not called get ``""``. A group of
    several programmes is one signal seen through overlapping gene sets, not independent
    evidence.
    """
    from .enrichment import group_overlapping

    out = calls.copy()
    out["overlap_group"] = ""
    for _, rows in out.groupby("contrast", sort=False):
        called = rows[rows["call"].isin(["up", "down"])]
        edges = {
            row.programme: {g for g in str(row.leading_edge).split(";") if g}
            for row in called.itertuples(index=False)
        }
        groups = group_overlapping(edges, min_jaccard)
        for index, row in called.iterrows():
            out.at[index, "overlap_group"] = groups[row["programme"]]
    return out


def classify_contrast(
    *,
    kind: str,
    terms: list[tuple[str, str, str]],
    context: dict[str, str | None],
    roles: dict,
) -> dict[str, str | None]:
    """Role of a contrast in the study's question, from the config's ``roles`` mapping.

    See :func:`msc_secretome.roles.contrast_role` (keys receiver_group, side, exposure,
    therapy, role).
    """
    return contrast_role(parse_roles(roles), kind=kind, terms=terms, context=context)


def with_definitions(table: pd.DataFrame, note: str, *, explain: bool = False) -> pd.DataFrame:
    """``table`` with a ``programme_definitions`` column (the note); with ``explain`` the note
    is also appended to each ``explanation`` and ``summary`` (the verdict states whose
    programmes it used)."""
    out = table.copy()
    out["programme_definitions"] = note
    if explain:
        for column in ("explanation", "summary"):
            if column in out.columns:
                out[column] = out[column].astype(str) + " " + note
    return out
