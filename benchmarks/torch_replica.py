"""PyTorch's OneCycleLR arithmetic, vectorised in NumPy.

``torch_values`` repeats ``OneCycleLR.get_lr`` operation for operation (the
same float64 inputs, the same phase search, the same formulas in the same
order), so that tests and benchmarks can check millions of steps without
stepping torch ten million times. ``tests/test_golden.py``,
``tests/test_torch_live.py`` and the accuracy benchmark measure how far it
is from real torch (0 at every step they compared). With
``dtype=np.longdouble`` the same inputs (PyTorch's float64 ``initial_lr``,
``min_lr`` and phase ends) are annealed in x87 extended precision: a
reference for the arithmetic error of the annealing itself, which
``tests/test_numerics.py`` checks against mpmath.

Where PyTorch divides by zero (a phase of zero width) the replica takes the
phase's end value, as ``onecycle_jax`` defines it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_LONG_PI = 4 * np.arctan(np.longdouble(1))


def boundaries(kwargs: dict[str, Any], what: str) -> tuple[list, list[float]]:
    """PyTorch's values at the phase boundaries and its phase end steps.

    Returns ``(values, ends)``: ``values[i]`` starts phase ``i`` and
    ``values[i + 1]`` ends it, each a float64 array over groups.
    """
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    pct = kwargs.get("pct_start", 0.3)
    three = kwargs.get("three_phase", False)
    if what == "lr":
        peak = np.asarray(kwargs["max_lr"], np.float64)
        initial = peak / kwargs.get("div_factor", 25.0)
        low = initial / kwargs.get("final_div_factor", 1e4)
        values = [initial, peak, initial, low] if three else [initial, peak, low]
    else:
        high = np.asarray(kwargs.get("max_momentum", 0.95), np.float64)
        low = np.asarray(kwargs.get("base_momentum", 0.85), np.float64)
        if not kwargs.get("cycle_momentum", True):
            low = high
        values = [high, low, high, high] if three else [high, low, high]
    ends = [float(pct * total) - 1]
    if three:
        ends.append(float(2 * pct * total) - 2)
    ends.append(float(total - 1))
    return values, ends


def torch_curve(
    steps: Any, kwargs: dict[str, Any], dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's learning rate and momentum at PyTorch steps ``steps``.

    Args:
      steps: a 1-D array of integer PyTorch steps (``last_epoch`` values).
      kwargs: the arguments of ``onecycle_jax.onecycle``.
      dtype: ``np.float64`` repeats PyTorch; ``np.longdouble`` anneals the
        same inputs in extended precision.

    Returns:
      ``(lr, momentum)``, each of shape ``steps.shape + groups`` (no group
      axis when every per-group argument is a scalar).
    """
    lr_values, ends = boundaries(kwargs, "lr")
    momentum_values, _ = boundaries(kwargs, "momentum")
    steps = np.asarray(steps)
    # PyTorch takes the first phase whose end is not before the step; with a
    # running maximum of the ends that is a sorted search.
    running = np.maximum.accumulate(np.asarray(ends[:-1]))
    phase = np.searchsorted(running, steps, side="left")
    bounds = np.asarray([0.0, *ends])
    starts = bounds[phase].astype(dtype)
    width = bounds[phase + 1].astype(dtype) - starts
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(width != 0, (steps.astype(dtype) - starts) / width, 1)
    strategy = kwargs.get("anneal_strategy", "cos")
    if strategy == "cos":
        pi = _LONG_PI if dtype == np.longdouble else math.pi
        pct = np.cos(pi * pct) + 1
    out = []
    for values in (lr_values, momentum_values):
        groups = np.broadcast_arrays(*values)
        table = np.stack(groups).astype(dtype).reshape(len(values), -1)
        first = table[phase]
        last = table[phase + 1]
        share = pct[:, None]
        if strategy == "cos":
            value = last + (first - last) / 2.0 * share
        else:
            value = (last - first) * share + first
        out.append(value.reshape(steps.shape + groups[0].shape))
    return out[0], out[1]


def torch_values(
    steps: Any, kwargs: dict[str, Any], what: str = "lr", dtype: Any = np.float64
) -> np.ndarray:
    """PyTorch's ``what`` (``"lr"`` or ``"momentum"``) at PyTorch steps ``steps``."""
    lr, momentum = torch_curve(steps, kwargs, dtype)
    return lr if what == "lr" else momentum


def values(
    steps: np.ndarray,
    total_steps: int,
    max_lr: float,
    pct_start: float,
    div_factor: float,
    final_div_factor: float,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's two-phase cosine lr and momentum at ``steps``, in float64.

    Examples:
      >>> import numpy as np
      >>> lr, momentum = values(np.arange(10), 10, 0.1, 0.3, 25.0, 1e4)
      >>> [round(float(x), 5) for x in lr[:4]], round(float(momentum[2]), 3)
      ([0.004, 0.052, 0.1, 0.09505], 0.85)
    """
    return torch_curve(
        steps,
        dict(
            max_lr=max_lr,
            total_steps=total_steps,
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        ),
    )
