"""The one Markdown table writer of the project (book tables, the data dictionary, the fidelity report)."""
from __future__ import annotations

import pandas as pd


def table(frame: pd.DataFrame, decimals: dict[str, int] | int = 1) -> str:
    """A pipe table of `frame` (its index included when named): floats at `decimals` (one number, or
    per column), booleans as yes/no, missing values empty, text escaped; numbers right-aligned."""
    frame = frame.reset_index() if frame.index.name or isinstance(frame.index, pd.MultiIndex) else frame

    def cell(column, value) -> str:
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return "yes" if value else "no"
        if pd.api.types.is_scalar(value) and pd.isna(value):
            return ""
        if isinstance(value, float):
            places = decimals.get(column, 1) if isinstance(decimals, dict) else decimals
            return f"{value:.{places}f}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("--:" if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
                          else "---" for c in frame.columns) + "|"
    body = ["| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
