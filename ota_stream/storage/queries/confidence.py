"""How sure a rate is: the 95 % Wilson score interval of a proportion, and the two-proportion z test. Pure functions.

A rate of 3 devices out of 4 and one of 300 out of 400 read the same, but only the second says much. Release
decisions (compare, segments, the health gate with `confidence=true`) carry each rate's interval, and a difference
between two releases counts only when the z test finds it significant. Intervals are rates like every other
(0-100, 2 decimals); with nothing to count (b = 0) the interval is the whole range, [0, 100].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ota_stream.storage.queries.scope import rate

Z95 = 1.959964  # the normal quantile of 97.5 %: two-sided 95 %


def wilson(a: int, b: int) -> tuple[float, float]:
    """The Wilson score interval of p = a/b as rates: centre (p + z²/2b) / (1 + z²/b), half-width
    z·sqrt(p(1-p)/b + z²/4b²) / (1 + z²/b)."""
    if b <= 0:
        return 0.0, 100.0
    p, z2 = a / b, Z95 * Z95
    scale = 1 + z2 / b
    centre = (p + z2 / (2 * b)) / scale
    half = Z95 * math.sqrt(p * (1 - p) / b + z2 / (4 * b * b)) / scale
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return round(100 * low, 2), round(100 * high, 2)


def z_statistic(a1: int, b1: int, a2: int, b2: int) -> float | None:
    """The two-proportion z statistic of a1/b1 against a2/b2 with the pooled proportion; None when it is undefined
    (a denominator is 0, or the pooled proportion is 0 or 1: then the two proportions are equal)."""
    if b1 <= 0 or b2 <= 0:
        return None
    pooled = (a1 + a2) / (b1 + b2)
    spread = pooled * (1 - pooled) * (1 / b1 + 1 / b2)
    if spread <= 0:
        return None
    return (a1 / b1 - a2 / b2) / math.sqrt(spread)


def significant(a1: int, b1: int, a2: int, b2: int) -> bool:
    """Whether a1/b1 and a2/b2 differ at the 95 % level: |z| >= 1.959964; false when z is undefined."""
    z = z_statistic(a1, b1, a2, b2)
    return z is not None and abs(z) >= Z95


@dataclass(frozen=True)
class Proportion:
    """`part` out of `whole`: the rate every answer shows, its interval, and the test against another."""

    part: int
    whole: int

    @property
    def rate(self) -> float:
        return rate(self.part, self.whole)

    @property
    def interval(self) -> list[float]:
        return list(wilson(self.part, self.whole))

    def complement(self) -> Proportion:
        """The other outcome's proportion (failures of successes): its interval mirrors this one's."""
        return Proportion(self.whole - self.part, self.whole)

    def differs_from(self, other: Proportion) -> bool:
        return significant(self.part, self.whole, other.part, other.whole)
