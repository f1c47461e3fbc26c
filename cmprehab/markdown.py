"""The one Markdown table writer of the project (book tables, the data dictionary, the fidelity report)."""
from __future__ import annotations

import pandas as pd


#: Below this a p-value is printed as "< 0.0001", as journals print it.
P_FLOOR = 0.0001


def p_text(p: float) -> str:
    """A p-value as journals print it: two significant digits, "< 0.0001" below that
    (never "6.5e-16"). The one rule for tables and prose."""
    return f"< {P_FLOOR:g}" if p < P_FLOOR else f"{p:.2g}"


def cell(value, places: int) -> str:
    """One value as a table shows it: floats at `places`, booleans as yes/no, missing values empty."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    if isinstance(value, float):
        return f"{value:.{places}f}"
    return str(value)


def formatted(frame: pd.DataFrame, decimals: dict[str, int] | int = 1) -> pd.DataFrame:
    """`frame` as text, each value as `table` shows it (its index included when named)."""
    frame = frame.reset_index() if frame.index.name or isinstance(frame.index, pd.MultiIndex) else frame
    places = {c: decimals.get(c, 1) if isinstance(decimals, dict) else decimals for c in frame.columns}
    return pd.DataFrame({c: [cell(v, places[c]) for v in frame[c]] for c in frame.columns}, dtype=object)


def table(frame: pd.DataFrame, decimals: dict[str, int] | int = 1) -> str:
    """A pipe table of `frame` (its index included when named): floats at `decimals` (one number, or
    per column), booleans as yes/no, missing values empty, text escaped; numbers right-aligned."""
    frame = frame.reset_index() if frame.index.name or isinstance(frame.index, pd.MultiIndex) else frame
    text = formatted(frame, decimals)
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("--:" if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
                          else "---" for c in frame.columns) + "|"
    body = ["| " + " | ".join(v.replace("|", "\\|").replace("\n", " ") for v in row) + " |"
            for row in text.itertuples(index=False)]
    return "\n".join([header, rule, *body])
