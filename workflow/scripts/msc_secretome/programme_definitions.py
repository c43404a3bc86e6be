"""Where the run's programme definitions come from, and programmes made from GMT libraries.

Three sources (``gene_sets.programmes``):

* ``builtin``: the curated catalogue, in human symbols; for ``organism: mouse`` its gene sets
  are mapped through the shipped orthologue table (:mod:`msc_secretome.orthologs`);
* a catalogue TSV path: the user's programmes, in the data's own gene ids;
* ``none`` (any organism, e.g. fly or zebrafish ids): no catalogue; every set of the user's
  GMT libraries is a programme. Its category comes from its name prefix (``CYT_``,
  ``STRESS_``, ``REG_``, ``RISK_``, as in the catalogue) with that category's usual desired
  directions (:data:`CATEGORY_DIRECTIONS`); sets without such a prefix are ``uncategorised``:
  called, but not used by the dual-benefit verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .catalogue import COLUMNS, PREFIX_OF_CATEGORY
from .errors import InputError

#: Category of a user set without a category prefix (called, not used by the verdict).
UNCATEGORISED = "uncategorised"
#: Tier of a user set without a category prefix.
USER_TIER = "user"
#: Desired direction (cancer, normal) per category for prefix-named user sets: the values
#: most programmes of that category carry in the built-in catalogue.
CATEGORY_DIRECTIONS = {
    "cytotoxic": (1, -1),
    "stress_damage": (0, -1),
    "regenerative_protective": (-1, 1),
    "pro_tumour_risk": (-1, 0),
}


def category_of(name: str) -> str:
    """Category of a programme from its name prefix, else :data:`UNCATEGORISED`."""
    for category, prefix in PREFIX_OF_CATEGORY.items():
        if name.startswith(prefix):
            return category
    return UNCATEGORISED


def catalogue_from_libraries(libraries: Mapping[str, Mapping[str, Sequence[str]]]) -> pd.DataFrame:
    """A catalogue table whose programmes are the sets of GMT libraries (``programmes: none``).

    Parameters
    ----------
    libraries : mapping
        Library name -> (set name -> genes), in run order.

    Returns
    -------
    pandas.DataFrame
        One row per set (n_sets x 9): the catalogue :data:`~msc_secretome.catalogue.COLUMNS`
        (``genes`` a tuple; ``source`` = ``gmt:{library}``; tier ``core`` for prefix-named
        sets, else ``user``) plus ``library``. A set name in two libraries is an
        :class:`InputError`: programme names must be unique.
    """
    rows = []
    seen: dict[str, str] = {}
    for library, gene_sets in libraries.items():
        for name, genes in gene_sets.items():
            if name in seen:
                raise InputError(
                    f"gene set {name!r} is in libraries {seen[name]!r} and {library!r}; with "
                    "gene_sets.programmes: none each set is a programme and names must be unique",
                    path="config",
                    fix="rename one of the sets (or drop one library)",
                )
            seen[name] = library
            category = category_of(name)
            cancer, normal = CATEGORY_DIRECTIONS.get(category, (0, 0))
            rows.append(
                {
                    "programme": name,
                    "category": category,
                    "tier": USER_TIER if category == UNCATEGORISED else "core",
                    "direction_cancer": cancer,
                    "direction_normal": normal,
                    "source": f"gmt:{library}",
                    "genes": tuple(genes),
                    "description": f"gene set of the user's library {library}",
                    "library": library,
                }
            )
    return pd.DataFrame(rows, columns=[*COLUMNS, "library"])


def definitions_note(
    programmes: str, organism: str, libraries: Sequence[str], orthologs: str = "one_to_one"
) -> str:
    """One sentence naming the run's programme definitions (for tables and the verdict).

    ``programmes`` is the ``gene_sets.programmes`` value, ``libraries`` the GMT/Enrichr library
    names of the run, ``orthologs`` the ``gene_sets.orthologs`` value.
    """
    if programmes == "none":
        names = ", ".join(libraries) if libraries else "none given"
        return (
            f"Programme definitions: the user's gene-set libraries ({names}), not the built-in "
            "catalogue; categories from set-name prefixes."
        )
    if programmes == "builtin":
        if organism == "mouse":
            which = "one-to-one" if orthologs == "one_to_one" else "all"
            return (
                f"Programme definitions: the built-in catalogue mapped to mouse through {which} "
                "Ensembl orthologues (rates in results/gene_sets/ortholog_mapping.tsv)."
            )
        return "Programme definitions: the built-in catalogue."
    return f"Programme definitions: the user's catalogue {programmes}."


def run_catalogue(
    programmes: str,
    catalogue_path: str | None,
    libraries: Sequence[str],
    library_gmts: Sequence[str],
) -> pd.DataFrame:
    """The run's programme catalogue: the user's GMT libraries with ``gene_sets.programmes:
    none``, else the catalogue file (``catalogue_path``; ``None`` = the built-in one).

    ``libraries``, ``library_gmts``: the run's library names and their prepared GMT paths,
    read (pairwise) only with ``programmes: none`` (the rules give no GMTs otherwise).
    """
    from .catalogue import read_catalogue
    from .gmt import read_gmt

    if programmes == "none":
        return catalogue_from_libraries(
            {name: read_gmt(path) for name, path in zip(libraries, library_gmts, strict=True)}
        )
    return read_catalogue(catalogue_path)
