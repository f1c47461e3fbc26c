"""A differencing attacker: what a reader can tell of hidden counts from released ones.

It knows what each release says of a count ("<k": 0 to k - 1; a count r rounded to a multiple of
k: every count released as r; withheld: anything the total allows) and that the cells of a
partition add up to its total, and it tries every combination. Used by the disclosure tests, and
by the differencing attack on a whole build (test_disclosure_attack: its reading of a released count).
"""
from __future__ import annotations

import itertools

from cmprehab import params
from cmprehab.report import disclosure
from cmprehab.report.disclosure import WITHHELD, Policy

ON = Policy(active=True)
K = params.DEFAULTS.disclosure.k
SMALL = f"<{K}"


def interval(shown, most: int) -> list[int]:
    """Every count whose release is `shown` (up to `most` for a withheld one)."""
    if shown == SMALL:
        return list(range(0, K))
    if shown == WITHHELD:
        return list(range(0, most + 1))
    return [n for n in range(max(0, shown - K), shown + K + 1) if disclosure.released(n, ON) == shown]


def possible(cells: list, total) -> list[set[int]]:
    """The values each cell of a partition may have, given the released cells and released total."""
    most = max(interval(total, 0))
    ranges = [interval(shown, most) for shown in cells]
    found: list[set[int]] = [set() for _ in cells]
    for alternative in itertools.product(*ranges):
        if disclosure.released(sum(alternative), ON) == total or (total == SMALL and 0 < sum(alternative) < K):
            for i, value in enumerate(alternative):
                found[i].add(value)
    return found
