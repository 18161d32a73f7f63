"""The one-cycle schedule: an immutable pytree and the functions that build it."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from onecycle_jax import _phases, _validate

_STRATEGIES = ("cos", "linear")
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


def _static_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _resolve_total_steps(total_steps: Any, epochs: Any, steps_per_epoch: Any) -> Any:
    # PyTorch's precedence: total_steps first, then epochs * steps_per_epoch.
    # Whatever is given is checked; a product that contradicts total_steps
    # is an error rather than silently ignored.
    if epochs is not None:
        epochs = _validate.host_int("epochs", epochs)
    if steps_per_epoch is not None:
        steps_per_epoch = _validate.host_int("steps_per_epoch", steps_per_epoch)
    product = None
    if epochs is not None and steps_per_epoch is not None:
        product = epochs * steps_per_epoch
    if total_steps is not None:
        total_steps = _validate.host_int("total_steps", total_steps)
        if (
            product is not None
            and not any(_validate.is_traced(v) for v in (total_steps, product))
            and product != total_steps
        ):
            raise ValueError(
                f"total_steps={int(total_steps)} disagrees with epochs * "
                f"steps_per_epoch = {int(product)}; pass one or the other"
            )
        return total_steps
    if product is None:
        if epochs is None and steps_per_epoch is None:
            raise ValueError(
                "total_steps is missing: pass total_steps, or epochs and "
                "steps_per_epoch"
            )
        missing = "epochs" if epochs is None else "steps_per_epoch"
        raise ValueError(
            f"{missing} is missing: pass epochs together with steps_per_epoch "
            "(total_steps = epochs * steps_per_epoch), or pass total_steps"
        )
    if _validate.is_traced(product):
        # No error can be raised on traced values: an impossible product
        # becomes total_steps 0, which onecycle_jax.check reports.
        epochs, steps_per_epoch = (
            jnp.asarray(v).astype(jnp.int32) for v in (epochs, steps_per_epoch)
        )
        fits = (epochs >= 1) & (steps_per_epoch >= 1)
        fits &= epochs <= _validate.INT32_MAX // jnp.maximum(steps_per_epoch, 1)
        return jnp.where(fits, epochs * steps_per_epoch, 0)
    if product > _validate.INT32_MAX:
        raise ValueError(
            f"epochs * steps_per_epoch must be at most 2**31 - 1, got "
            f"{epochs} * {steps_per_epoch} = {product}"
        )
    return np.asarray(product, np.int64)


def onecycle(
    max_lr: Any,
    total_steps: Any = None,
    *,
    epochs: Any = None,
    steps_per_epoch: Any = None,
    pct_start: Any = 0.3,
    anneal_strategy: str = "cos",
    cycle_momentum: bool = True,
    base_momentum: Any = 0.85,
    max_momentum: Any = 0.95,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
    three_phase: bool = False,
    last_epoch: Any = -1,
    verbose: bool = False,
) -> OneCycle:
    r"""Builds a one-cycle schedule, value for value PyTorch's ``OneCycleLR``.

    The learning rate rises from ``initial_lr = max_lr / div_factor`` to
    ``max_lr`` over the first ``pct_start`` of the cycle, then falls to
    ``min_lr = initial_lr / final_div_factor``; with ``three_phase=True`` it
    falls back to ``initial_lr`` symmetrically first, and only then to
    ``min_lr``. Momentum moves the opposite way between ``max_momentum`` and
    ``base_momentum``.

    The value at optax count ``k`` is PyTorch's at ``last_epoch == k``, i.e.
    what it sets before the ``(k + 1)``-th ``optimizer.step()``. Where
    PyTorch has no answer this schedule defines one: counts at or past
    ``total_steps`` hold ``min_lr`` and the final momentum, negative counts
    hold the first values, and a phase of zero width takes its end value.

    Every numeric argument may be a traced JAX value (for ``jax.vmap``
    sweeps); concrete values are checked here, traced ones by
    :func:`onecycle_jax.check` under ``checkify``.

    Args:
      max_lr: the peak learning rate; a sequence gives one value per
        parameter group.
      total_steps: the number of steps in the cycle; or pass ``epochs`` and
        ``steps_per_epoch``.
      epochs: the number of epochs, with ``steps_per_epoch``.
      steps_per_epoch: the number of steps in an epoch, with ``epochs``.
      pct_start: the fraction of the cycle spent raising the learning rate.
      anneal_strategy: ``"cos"`` or ``"linear"``.
      cycle_momentum: whether momentum cycles; if not, it is
        ``max_momentum`` throughout.
      base_momentum: the momentum at the peak learning rate (per group too).
      max_momentum: the momentum at the start and end (per group too).
      div_factor: ``initial_lr = max_lr / div_factor``.
      final_div_factor: ``min_lr = initial_lr / final_div_factor``.
      three_phase: whether to use three phases (Smith's original policy).
      last_epoch: the last step already taken, to resume a cycle; the value
        at count ``k`` is then PyTorch's at step ``k + last_epoch + 1``.
      verbose: print the learning rate each time it is evaluated (works
        inside ``jax.jit``, through ``jax.debug.print``).

    Returns:
      A :class:`OneCycle`; ``schedule(count)`` is the learning rate and
      ``schedule.momentum(count)`` the momentum.

    Raises:
      TypeError: an argument has the wrong type (a float ``total_steps``,
        a bool where a number is expected, a string ``max_lr``).
      ValueError: an argument is out of range; the message names it, the
        value given and what is allowed.

    Examples:
      >>> import jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> sched = oc.onecycle(0.1, total_steps=10)
      >>> [round(float(x), 5) for x in sched(jnp.arange(10))]
      [0.004, 0.052, 0.1, 0.09505, 0.08117, 0.06113, 0.03887, 0.01883, 0.00495, 0.0]
      >>> [round(float(x), 3) for x in sched.momentum(jnp.array([0, 2, 9]))]
      [0.95, 0.85, 0.95]

    References:
      Smith & Topin, "Super-Convergence: Very Fast Training of Neural
      Networks Using Large Learning Rates", 2017, arXiv:1708.07120.
    """
    total_steps = _resolve_total_steps(total_steps, epochs, steps_per_epoch)
    if not isinstance(anneal_strategy, str) or anneal_strategy not in _STRATEGIES:
        raise ValueError(
            f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
        )
    three_phase = _static_bool("three_phase", three_phase)
    per_group = {
        name: _validate.host_float(name, value, per_group=True)
        for name, value in (
            ("max_lr", max_lr),
            ("base_momentum", base_momentum),
            ("max_momentum", max_momentum),
        )
    }
    _validate.host_group_lengths(**per_group)
    div_factor = _validate.host_float("div_factor", div_factor)
    final_div_factor = _validate.host_float("final_div_factor", final_div_factor)
    _validate.host_lr_range(per_group["max_lr"], div_factor, final_div_factor)
    pct_start = _validate.host_float("pct_start", pct_start)
    _validate.host_pct_start(pct_start, three_phase)
    return OneCycle(
        total_steps=total_steps,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        last_epoch=_validate.host_int("last_epoch", last_epoch),
        anneal_strategy=anneal_strategy,
        three_phase=three_phase,
        cycle_momentum=_static_bool("cycle_momentum", cycle_momentum),
        verbose=_static_bool("verbose", verbose),
        **per_group,
    )


def onecycle_lr(
    count: Any, max_lr: Any, total_steps: Any = None, **kwargs: Any
) -> jax.Array:
    """The one-cycle learning rate at ``count``, as a pure function.

    Takes the arguments of :func:`onecycle`; ``onecycle_lr(count, ...)`` is
    ``onecycle(...).lr(count)``.

    Examples:
      >>> import onecycle_jax as oc
      >>> float(oc.onecycle_lr(29, max_lr=1.0, total_steps=100))  # the peak
      1.0
    """
    return onecycle(max_lr, total_steps, **kwargs).lr(count)


def onecycle_momentum(count: Any, total_steps: Any = None, **kwargs: Any) -> jax.Array:
    """The one-cycle momentum at ``count``, as a pure function.

    Takes the arguments of :func:`onecycle` (``max_lr`` is not needed);
    ``onecycle_momentum(count, ...)`` is ``onecycle(...).momentum(count)``.

    Examples:
      >>> import onecycle_jax as oc
      >>> round(float(oc.onecycle_momentum(29, total_steps=100)), 4)
      0.85
    """
    max_lr = kwargs.pop("max_lr", 1.0)
    return onecycle(max_lr, total_steps, **kwargs).momentum(count)
