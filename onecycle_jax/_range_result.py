"""What a learning-rate range test measured, and the max_lr read off it.

:class:`RangeTestResult` is the pytree :func:`onecycle_jax.lr_range_test`
returns; its suggestions are masked array code, so they work on a vmapped
result too and give one value per sweep.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from onecycle_jax import _validate

_METHODS = ("steepest", "minimum", "valley")


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=("lrs", "losses", "smoothed_losses", "stopped_at"),
    meta_fields=("step_mode",),
)
@dataclasses.dataclass(frozen=True, eq=False)
class RangeTestResult:
    """What :func:`~onecycle_jax.lr_range_test` measured; a pytree, so it vmaps.

    The valid entries are the first ``stopped_at`` (``valid`` is the mask).
    Past them the sweep made no more updates: ``lrs`` still holds the grid,
    while ``losses`` and ``smoothed_losses`` repeat their last valid entry
    (zero if the very first loss was non-finite), so no value comes from a
    diverged step. A vmapped sweep has a leading axis on every leaf;
    ``step_mode`` is static.

    Attributes:
      lrs: the learning rate of each step, ``(num_steps,)``.
      losses: the loss of each step's batch, measured before the update that
        uses ``lrs[i]`` (so it reflects ``lrs[:i]``).
      smoothed_losses: the bias-corrected moving average of ``losses``.
      stopped_at: the first step not run, an int32: ``num_steps`` if the
        loss never diverged, else the step whose smoothed loss was
        non-finite or above ``diverge_threshold`` times the best one.
      step_mode: ``"exp"`` or ``"linear"`` (static).
    """

    lrs: jax.Array
    losses: jax.Array
    smoothed_losses: jax.Array
    stopped_at: jax.Array
    step_mode: str = "exp"

    @property
    def valid(self) -> jax.Array:
        """A boolean mask of the steps that ran, shaped like ``losses``."""
        steps = jnp.arange(jnp.shape(self.losses)[-1])
        return steps < jnp.expand_dims(jnp.asarray(self.stopped_at), -1)

    @property
    def diverged(self) -> jax.Array:
        """Whether the sweep stopped early on a diverging loss."""
        return jnp.asarray(self.stopped_at) < jnp.shape(self.losses)[-1]

    def suggestion(self, method: str = "steepest") -> jax.Array:
        """A ``max_lr`` read off the valid part of the sweep.

        Args:
          method: ``"steepest"``, the learning rate where the smoothed loss
            falls fastest against ``log(lr)``, measured by a central
            difference over ``max(1, num_steps // 20)`` steps each side;
            ``"minimum"``, a tenth of the learning rate at the lowest
            smoothed loss; or ``"valley"``, the point two thirds of the way
            (in steps) down the longest stretch over which the smoothed
            loss falls at every step. ``"steepest"`` and ``"valley"`` look
            only at the steps from ``num_steps // 10`` (before which the
            average holds too few losses) up to the lowest smoothed loss.

        Returns:
          A scalar array (one per sweep for a vmapped result).

        Raises:
          ValueError: ``method`` is unknown, or a concrete sweep has fewer
            than 3 steps or stopped before its third (too few points to read
            a slope; lower ``start_lr``). Inside ``jax.jit`` such a sweep
            gives NaN.

        Examples:
          >>> import jax.numpy as jnp
          >>> import onecycle_jax as oc
          >>> lrs = jnp.logspace(-3, 1, 9)
          >>> loss = jnp.array([2.0, 2.0, 1.9, 1.5, 0.9, 0.6, 0.5, 3.0, 3.0])
          >>> result = oc.RangeTestResult(lrs, loss, loss, jnp.int32(8))
          >>> [round(float(result.suggestion(m)), 4)
          ...  for m in ("steepest", "minimum", "valley")]
          [0.0316, 0.1, 0.1]
        """
        if method not in _METHODS:
            raise ValueError(
                f"method must be one of {', '.join(map(repr, _METHODS))}, "
                f"got {method!r}"
            )
        stopped_at = self.stopped_at
        if not _validate.is_traced(stopped_at) and np.any(np.asarray(stopped_at) < 3):
            steps = np.shape(self.losses)[-1]
            if steps < 3:
                raise ValueError(
                    f"the sweep has {steps} steps, too few to suggest a learning "
                    "rate; run it with num_steps >= 3"
                )
            raise ValueError(
                "the sweep diverged before its third step (stopped_at="
                f"{np.asarray(stopped_at).tolist()}), too early to "
                "suggest a learning rate; lower start_lr"
            )
        return _suggest_each(
            self.lrs, self.smoothed_losses, jnp.asarray(self.stopped_at), method
        )

    def plot(self, ax: Any = None) -> Any:
        """Plots the sweep with matplotlib (see ``onecycle_jax._range_plot``)."""
        from onecycle_jax import _range_plot

        return _range_plot.plot(self, ax)


@functools.partial(jax.jit, static_argnames="method")
def _suggest_each(
    lrs: jax.Array, smoothed: jax.Array, stopped_at: jax.Array, method: str
) -> jax.Array:
    pick = functools.partial(_suggest, method=method)
    return jnp.vectorize(pick, signature="(n),(n),()->()")(lrs, smoothed, stopped_at)


def _suggest(
    lrs: jax.Array, smoothed: jax.Array, stopped_at: jax.Array, *, method: str
) -> jax.Array:
    steps = jnp.arange(lrs.shape[0])
    lowest = jnp.argmin(jnp.where(steps < stopped_at, smoothed, jnp.inf))
    # Past the lowest loss a noisy, not yet diverged sweep can fall again
    # from a spike; such a fall says nothing about a usable learning rate.
    # Over the first tenth the average holds only a few losses, and their
    # noise would look like slopes steeper than the real descent.
    first = jnp.minimum(lrs.shape[0] // 10, lowest)
    descent = (steps >= first) & (steps <= lowest)
    if method == "minimum":
        index = lowest
        scale = 0.1
    elif method == "steepest":
        log_lr = jnp.log(lrs)
        # A difference over a tenth of the sweep, not over neighbours: the
        # slope between neighbouring steps is mostly minibatch noise. Ends
        # are clipped to the valid prefix, so no slope reaches a step that
        # did not run.
        half = max(1, lrs.shape[0] // 20)
        ahead = jnp.minimum(steps + half, stopped_at - 1)
        behind = jnp.maximum(steps - half, 0)
        slope = (smoothed[ahead] - smoothed[behind]) / (log_lr[ahead] - log_lr[behind])
        index = jnp.argmin(jnp.where(descent, slope, jnp.inf))
        scale = 1.0
    else:
        falling = (smoothed[1:] < smoothed[:-1]) & descent[1:]

        def run(length, fell):
            length = jnp.where(fell, length + 1, 0)
            return length, length

        _, lengths = jax.lax.scan(run, jnp.zeros((), jnp.int32), falling)
        end = jnp.argmax(lengths) + 1
        start = end - lengths[end - 1]
        # Two thirds of the way down, rounded to the nearest step.
        index = start + (2 * (end - start) + 1) // 3
        scale = 1.0
    return jnp.where(stopped_at >= 3, lrs[index] * scale, jnp.nan)
