"""A matplotlib figure of a learning-rate range test.

matplotlib comes with the ``examples`` extra and is imported only here, when
a plot is asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_MARKERS = {"steepest": ("o", "C1"), "minimum": ("v", "C2"), "valley": ("s", "C3")}


def plot(result: Any, ax: Any = None) -> Any:
    """Plots loss against learning rate, with the three suggestions marked.

    Only the valid steps are drawn: the raw loss faintly, the smoothed loss
    solid, up to a quarter above the first smoothed loss. The learning-rate
    axis is logarithmic for an ``"exp"`` sweep. A vmapped result draws one
    curve per sweep, without markers.

    Args:
      result: a :class:`~onecycle_jax.RangeTestResult`.
      ax: a matplotlib ``Axes`` to draw on; a new figure's if ``None``.

    Returns:
      The ``Axes``.

    Examples:
      >>> import matplotlib
      >>> matplotlib.use("Agg")
      >>> import jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> result = oc.lr_range_test(lambda w, t: jnp.sum((w - t) ** 2),
      ...                           jnp.ones(2), jnp.zeros((40, 2)), num_steps=40)
      >>> ax = result.plot()
      >>> ax.get_xscale(), len(ax.get_lines())
      ('log', 5)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    lrs = np.atleast_2d(np.asarray(result.lrs))
    losses = np.atleast_2d(np.asarray(result.losses))
    smoothed = np.atleast_2d(np.asarray(result.smoothed_losses))
    stops = np.atleast_1d(np.asarray(result.stopped_at)).reshape(-1)
    lrs, losses, smoothed = (
        a.reshape(-1, a.shape[-1]) for a in (lrs, losses, smoothed)
    )
    single = len(stops) == 1
    for row, stop in enumerate(stops):
        ax.plot(
            lrs[row, :stop],
            losses[row, :stop],
            color="C0",
            alpha=0.25,
            lw=1,
            label="loss" if row == 0 else None,
        )
        ax.plot(
            lrs[row, :stop],
            smoothed[row, :stop],
            color="C0",
            lw=1.5,
            label="smoothed loss" if row == 0 else None,
        )
    if single and stops[0] >= 3:
        for method, (marker, color) in _MARKERS.items():
            lr = float(result.suggestion(method))
            index = int(np.argmin(np.abs(lrs[0, : stops[0]] - lr)))
            ax.plot(
                lr,
                smoothed[0, index],
                marker=marker,
                color=color,
                linestyle="none",
                label=f"{method}: {lr:.3g}",
            )
    # Spikes of the raw loss near divergence would flatten the curve that
    # matters, so the view stops a little above where the sweep began.
    valid = [smoothed[row, :stop] for row, stop in enumerate(stops) if stop > 0]
    if valid:
        low = min(v.min() for v in valid)
        high = max(v[0] for v in valid) * 1.25
        if np.isfinite(low) and np.isfinite(high) and high > low:
            ax.set_ylim(low - 0.05 * (high - low), high)
    if result.step_mode == "exp":
        ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend()
    return ax
