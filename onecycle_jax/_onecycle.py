"""The one-cycle schedule: an immutable pytree of its hyperparameters."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from onecycle_jax import _phases, _validate

_NUMERIC = (
    "max_lr",
    "total_steps",
    "pct_start",
    "div_factor",
    "final_div_factor",
    "base_momentum",
    "max_momentum",
    "last_epoch",
)
_STATIC = ("anneal_strategy", "three_phase", "cycle_momentum", "verbose")


@functools.partial(
    jax.tree_util.register_dataclass, data_fields=_NUMERIC, meta_fields=_STATIC
)
@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class OneCycle:
    """A one-cycle learning-rate and momentum schedule.

    Build one with :func:`onecycle`, which checks its arguments; this class
    does no checking of its own, so that JAX can rebuild it from traced
    leaves. Numeric hyperparameters are pytree leaves (so they can be traced,
    vmapped and passed to ``jax.jit``); ``anneal_strategy``, ``three_phase``,
    ``cycle_momentum`` and ``verbose`` are static.

    Calling the schedule gives the learning rate, so it is an optax schedule:
    ``schedule(count)`` is ``schedule.lr(count)``.
    """

    max_lr: Any
    total_steps: Any
    pct_start: Any
    div_factor: Any
    final_div_factor: Any
    base_momentum: Any
    max_momentum: Any
    last_epoch: Any
    anneal_strategy: str = "cos"
    three_phase: bool = False
    cycle_momentum: bool = True
    verbose: bool = False

    def __call__(self, count: Any) -> jax.Array:
        """The learning rate at optax update count ``count``."""
        return self.lr(count)

    def lr(self, count: Any) -> jax.Array:
        """The learning rate at optax update count ``count``.

        Args:
          count: an integer, or an integer array, of update counts; 0 is the
            first update.

        Returns:
          An array of shape ``count.shape + group_shape`` in the default
          float dtype, where ``group_shape`` is ``(groups,)`` for per-group
          ``max_lr`` and ``()`` otherwise.
        """
        values = self._lr_values()
        lr = self._evaluate(count, values, final=values[-1])
        if self.verbose:
            jax.debug.print(
                "onecycle_jax: count {count} learning rate {lr}", count=count, lr=lr
            )
        return lr

    def momentum(self, count: Any) -> jax.Array:
        """The momentum (or Adam's ``b1``) at optax update count ``count``.

        It runs from ``max_momentum`` down to ``base_momentum`` while the
        learning rate rises, and back up while it falls (held at
        ``max_momentum`` in the third phase). With ``cycle_momentum=False``
        it is ``max_momentum`` throughout.
        """
        dtype = _phases.float_dtype()
        high = _as_array(self.max_momentum, dtype)
        if not self.cycle_momentum:
            shape = np.shape(_phases.as_count(count)) + self.group_shape
            return jnp.broadcast_to(high, shape)
        low = _as_array(self.base_momentum, dtype)
        values = (high, low, high, high) if self.three_phase else (high, low, high)
        return self._evaluate(count, values, final=high)

    @property
    def group_shape(self) -> tuple[int, ...]:
        """The shape the hyperparameters broadcast to: ``()`` or ``(groups,)``."""
        return tuple(
            np.broadcast_shapes(*(np.shape(getattr(self, n)) for n in _NUMERIC))
        )

    @property
    def initial_lr(self) -> jax.Array:
        """The learning rate at the start, ``max_lr / div_factor``."""
        return self._lr_values()[0]

    @property
    def min_lr(self) -> jax.Array:
        """The final learning rate, ``initial_lr / final_div_factor``."""
        return self._lr_values()[-1]

    @property
    def phase_ends(self) -> tuple[jax.Array, ...]:
        """The step at which each phase ends, as PyTorch defines them.

        ``pct_start * total_steps - 1``, then (three phases only)
        ``2 * pct_start * total_steps - 2``, then ``total_steps - 1``. Steps
        are PyTorch's, which equal optax counts when ``last_epoch=-1``.
        """
        if not any(_validate.is_traced(v) for v in (self.pct_start, self.total_steps)):
            # float64 on the host, as PyTorch: float32 cannot hold 644245093.1.
            peak = np.asarray(self.pct_start, np.float64) * np.asarray(
                self.total_steps, np.float64
            )
            last = np.asarray(self.total_steps, np.float64) - 1
            middle = (2 * peak - 2,) if self.three_phase else ()
            return (peak - 1, *middle, last)
        ends = _phases.phase_ends(self.pct_start, self.total_steps, self.three_phase)
        return tuple(end.whole.astype(end.frac.dtype) + end.frac for end in ends)

    def _lr_values(self) -> tuple[jax.Array, ...]:
        dtype = _phases.float_dtype()
        names = ("max_lr", "div_factor", "final_div_factor")
        if any(_validate.is_traced(getattr(self, n)) for n in names):
            peak, div, final_div = (_as_array(getattr(self, n), dtype) for n in names)
        else:
            # Divide in float64 on the host, as PyTorch does, and round once.
            peak, div, final_div = (
                np.asarray(getattr(self, n), np.float64) for n in names
            )
        initial = peak / div
        low = initial / final_div
        initial, peak, low = (_as_array(v, dtype) for v in (initial, peak, low))
        if self.three_phase:
            return initial, peak, initial, low
        return initial, peak, low

    def _evaluate(
        self, count: Any, values: tuple[jax.Array, ...], final: jax.Array
    ) -> jax.Array:
        # The phase ends are derived here, outside the compiled curve, so
        # that concrete hyperparameters keep their float64 host arithmetic.
        ends = _phases.phase_ends(self.pct_start, self.total_steps, self.three_phase)
        # int32 arrays, not NumPy int64: jit's argument cache can confuse the
        # two when jax.enable_x64 is switched on and off around calls.
        return _phases.curve(
            _phases.as_count(count),
            jnp.asarray(self.total_steps, jnp.int32),
            jnp.asarray(self.last_epoch, jnp.int32),
            ends,
            values,
            final,
            strategy=self.anneal_strategy,
            group_shape=self.group_shape,
        )

    def __len__(self) -> int:
        """The number of configurations in a sweep built by ``grid``."""
        from onecycle_jax import _grid

        return _grid.size(self)

    def __bool__(self) -> bool:
        # Defined so that truth tests never fall back on __len__, which only
        # a sweep has.
        return True

    def __getitem__(self, index: Any) -> OneCycle:
        """Configuration ``index`` of a sweep (a smaller sweep for a slice)."""
        from onecycle_jax import _grid

        return _grid.select(self, index)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The configurations of a sweep as dicts of plain Python values."""
        from onecycle_jax import _grid

        return _grid.to_dicts(self)

    def __repr__(self) -> str:
        def show(value: Any) -> str:
            if isinstance(value, np.ndarray):
                return repr(value.tolist())
            return repr(value)

        fields = ", ".join(
            f"{f.name}={show(getattr(self, f.name))}" for f in dataclasses.fields(self)
        )
        return f"OneCycle({fields})"


def _as_array(value: Any, dtype: Any) -> jax.Array:
    return jnp.asarray(value).astype(dtype)
