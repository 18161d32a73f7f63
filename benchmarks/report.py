"""Number formats and verdict lines shared by the report sections."""

from __future__ import annotations


def rate(per_second: float) -> str:
    """A throughput with an SI prefix: ``2.5e7`` -> ``'25.0 M'``."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_second >= scale:
            return f"{per_second / scale:.3g} {prefix}"
    return f"{per_second:.3g}"


def seconds(value: float) -> str:
    """A duration in s, ms or µs, three significant digits."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def verdict(met: bool, target: str, measured: str) -> str:
    """A line saying whether a target is met, with the figure that decides."""
    if met:
        return f"**Target met**: {target} (measured {measured})."
    return f"**Falls short of target**: {target} (measured {measured})."


def met(ok: bool) -> str:
    """``'met'``, or ``'**falls short**'``, for a summary table."""
    return "met" if ok else "**falls short**"
