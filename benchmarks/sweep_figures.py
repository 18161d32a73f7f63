"""The sweep speed-up, measured by ``benchmarks/sweep.py``, in this report.

``benchmarks/sweep.py`` belongs to the sweeps work: its ``figures(quick=...)``
trains 64 one-cycle configurations of the digits MLP in one
``jit(vmap(...))``, one after another and with PyTorch, and returns the
figures as a dict. This module runs it and lays the figures out; where the
script is missing, or fails, the report says so instead of losing the other
sections.
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any

from benchmarks import report

TARGET = 10.0  # the vmapped sweep against the sequential JAX runs, 2-core CPU
SEQUENTIAL = "speedup_vs_sequential_jax"
PYTORCH = "speedup_vs_pytorch"


class Failed(dict):
    """The figures of a sweep benchmark that raised: only ``error``."""


def measure(quick: bool, **options: Any) -> dict[str, Any] | None:
    """The sweep's figures; None where ``benchmarks/sweep.py`` is missing.

    ``options`` go to the sweep's ``figures`` as they are (``torch_threads``).

    An exception inside the sweep benchmark is caught and returned as a
    :class:`Failed` holding its last traceback line, so that the report
    still shows the other sections.
    """
    try:
        sweep = importlib.import_module("benchmarks.sweep")
    except ImportError as error:
        if error.name != "benchmarks.sweep":
            raise
        return None
    if not callable(getattr(sweep, "figures", None)):
        return None
    try:
        return dict(sweep.figures(quick=quick, **options))
    except Exception as error:  # the report must survive a broken sweep
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return Failed(error=last)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def summary_rows(figures: dict[str, Any]) -> list[str]:
    """Summary-table rows for the sweep's speed-ups."""
    rows = []
    if SEQUENTIAL in figures:
        rows.append(
            f"| sweep of 64 trainings: vmapped / sequential JAX "
            f"| {figures[SEQUENTIAL]:.1f}x (target >= {TARGET:.0f}x: "
            f"{report.met(figures[SEQUENTIAL] >= TARGET)}) |"
        )
    if PYTORCH in figures:
        rows.append(
            f"| sweep of 64 trainings: vmapped / PyTorch loop "
            f"| {figures[PYTORCH]:.1f}x |"
        )
    return rows


def markdown(figures: dict[str, Any] | None) -> str:
    """The sweep's figures as a table, with the verdict on the 10x target."""
    if figures is None:
        return (
            "Not available: `benchmarks/sweep.py` (the sweeps work) is missing "
            "or has no `figures` function, so the sweep speed-up was not "
            "measured in this run."
        )
    if isinstance(figures, Failed):
        return (
            "Not available: `benchmarks/sweep.py` failed in this run, so the "
            f"sweep speed-up was not measured: `{figures['error']}`."
        )
    lines = ["| figure | value |", "|---|---:|"]
    lines += [f"| `{key}` | {_show(value)} |" for key, value in figures.items()]
    if SEQUENTIAL in figures:
        value = figures[SEQUENTIAL]
        lines += [
            "",
            report.verdict(
                value >= TARGET,
                f"the vmapped sweep at least {TARGET:.0f}x faster than the "
                "sequential JAX runs on a 2-core CPU",
                f"{value:.1f}x",
            ),
        ]
    lines += [
        "",
        "Measured by `benchmarks/sweep.py` (`python benchmarks/sweep.py` runs "
        "it alone); its docstring says how.",
    ]
    return "\n".join(lines)
