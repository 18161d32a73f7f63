"""PyTorch's OneCycleLR arithmetic in NumPy float64, vectorized over steps.

Stepping PyTorch's scheduler ten million times takes minutes, so the
accuracy benchmark uses this replica as the float64 reference and checks
it against the real scheduler on a prefix (see ``accuracy.py``). Every
operation is PyTorch's, in PyTorch's order, on float64: the phase ends
``float(pct_start * total_steps) - 1`` and ``total_steps - 1``,
``pct = (step - start_step) / (end_step - start_step)`` and the annealing
``end + (start - end) / 2.0 * (cos(pi * pct) + 1)``. Only ``math.cos`` is
swapped for ``np.cos``; both are correctly rounded to within an ulp.
"""

from __future__ import annotations

import math

import numpy as np


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

    Args:
      steps: PyTorch steps (``last_epoch``), each in ``[0, total_steps - 1]``.
      total_steps: the cycle length.
      max_lr: the peak learning rate.
      pct_start: the fraction of the cycle spent rising.
      div_factor: ``initial_lr = max_lr / div_factor``.
      final_div_factor: ``min_lr = initial_lr / final_div_factor``.
      base_momentum: the momentum at the peak.
      max_momentum: the momentum at both ends.

    Returns:
      ``(lr, momentum)``, float64 arrays shaped like ``steps``.

    Examples:
      >>> import numpy as np
      >>> lr, momentum = values(np.arange(10), 10, 0.1, 0.3, 25.0, 1e4)
      >>> [round(float(x), 5) for x in lr[:4]], round(float(momentum[2]), 3)
      ([0.004, 0.052, 0.1, 0.09505], 0.85)
    """
    step = np.asarray(steps, np.float64)
    initial = max_lr / div_factor
    minimum = initial / final_div_factor
    first_end = float(pct_start * total_steps) - 1
    last_end = float(total_steps - 1)
    rising = step <= first_end
    start_step = np.where(rising, 0.0, first_end)
    end_step = np.where(rising, first_end, last_end)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (step - start_step) / (end_step - start_step)
    lr = _cos(np.where(rising, initial, max_lr), np.where(rising, max_lr, minimum), pct)
    momentum = _cos(
        np.where(rising, max_momentum, base_momentum),
        np.where(rising, base_momentum, max_momentum),
        pct,
    )
    return lr, momentum


def _cos(start: np.ndarray, end: np.ndarray, pct: np.ndarray) -> np.ndarray:
    return end + (start - end) / 2.0 * (np.cos(math.pi * pct) + 1)
