"""``text``: a free-text reference answer (a diagnosis, a name, a short phrase).

The canonical answer is the string as given; the comparison key folds what does not change the
answer: Unicode compatibility forms (NFKC), case, punctuation and runs of spaces.

>>> answer, norm, problem = Text().canonical(pl.Series(["Parvovirus B19-infection.", "  ＰＡＲＶＯＶＩＲＵＳ b19 infection"]))
>>> norm.to_list()
['parvovirus b19 infection', 'parvovirus b19 infection']
"""

from __future__ import annotations

import polars as pl

from curate.kinds.base import AnswerKind


def text_key(values: pl.Expr) -> pl.Expr:
    """NFKC, case-folded, punctuation removed, spaces collapsed, stripped."""
    return (
        values.str.normalize("NFKC").str.to_lowercase().str.replace_all("ß", "ss", literal=True)
        .str.replace_all(r"\p{P}+", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    )


class Text(AnswerKind):
    """A string answer compared after normalisation."""

    name = "text"

    def canonical(self, values: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        values = values.cast(pl.String)
        norm = pl.select(text_key(pl.lit(values))).to_series()
        return values, norm, pl.Series([None] * len(values), dtype=pl.String)
