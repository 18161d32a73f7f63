"""Sweeps: many one-cycle configurations held in one :class:`OneCycle`.

A grid is an ordinary :class:`~onecycle_jax.OneCycle` whose numeric leaves
all carry one leading axis, one entry per configuration. ``jax.vmap`` over
it hands each mapped function a schedule with scalar leaves, so a whole
sweep trains as one compiled program; the values are array arguments of
that program, never constants in it, so another grid of the same size
reuses the compiled code.
"""

from __future__ import annotations

import dataclasses
import numbers
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from onecycle_jax import _validate

if TYPE_CHECKING:  # _onecycle imports this module from inside its methods
    from onecycle_jax._onecycle import OneCycle

# The sweep axes, in the order of the arguments of ``onecycle``: the first
# listed argument varies slowest across the configurations.
_AXES = (
    "max_lr",
    "total_steps",
    "pct_start",
    "base_momentum",
    "max_momentum",
    "div_factor",
    "final_div_factor",
    "last_epoch",
)
_INTEGER = ("total_steps", "last_epoch")


def grid(
    max_lr: Any,
    total_steps: Any,
    *,
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
    """Builds every combination of the listed one-cycle hyperparameters.

    Each numeric argument of :func:`onecycle_jax.onecycle` may be a number
    (the same in every configuration) or a list, tuple or 1-D array of
    values to sweep; the grid holds the Cartesian product of the lists.
    Configurations run in row-major order over the listed arguments in the
    order of this signature (``max_lr`` slowest), so
    ``results.reshape(len(max_lrs), len(pct_starts))`` puts ``max_lr`` on the
    rows. The static options (``anneal_strategy``, ``three_phase``,
    ``cycle_momentum``, ``verbose``) are shared by the whole grid.

    Every value is checked as :func:`~onecycle_jax.onecycle` checks it.
    Configurations may differ in ``total_steps``: a shorter cycle holds its
    final values past its own end.

    Use the grid in three ways:

    - ``jax.vmap(train)(grid)``: ``train`` receives one configuration, a
      schedule with scalar leaves, and builds its optimizer from it;
    - ``grid[i]`` is configuration ``i`` (a slice gives a smaller grid),
      ``len(grid)`` the number of configurations and ``grid.to_dicts()``
      their plain Python values, for tables and plots;
    - ``grid(count)`` evaluates every configuration at once: the result has
      shape ``count.shape + (len(grid),)``.

    Per-group values (a ``max_lr`` per parameter group) cannot be swept.

    Args:
      max_lr: the peak learning rate, or a list of them.
      total_steps: the number of steps in the cycle, or a list of them.
      pct_start: the fraction of the cycle spent raising the learning rate.
      anneal_strategy: ``"cos"`` or ``"linear"``.
      cycle_momentum: whether momentum cycles.
      base_momentum: the momentum at the peak learning rate.
      max_momentum: the momentum at the start and end.
      div_factor: ``initial_lr = max_lr / div_factor``.
      final_div_factor: ``min_lr = initial_lr / final_div_factor``.
      three_phase: whether to use three phases.
      last_epoch: the last step already taken, to resume a cycle.
      verbose: print the learning rate each time it is evaluated.

    Returns:
      A :class:`~onecycle_jax.OneCycle` whose numeric leaves are arrays of
      shape ``(len(grid),)``.

    Raises:
      TypeError: a value has the wrong type; the message names the argument.
      ValueError: a value is out of range or a list is empty; the message
        names the argument, the value and what is allowed.

    Examples:
      >>> import jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> sweep = oc.grid(max_lr=[0.1, 1.0], pct_start=[0.25, 0.5], total_steps=8)
      >>> len(sweep)
      4
      >>> [(d["max_lr"], d["pct_start"]) for d in sweep.to_dicts()]
      [(0.1, 0.25), (0.1, 0.5), (1.0, 0.25), (1.0, 0.5)]
      >>> [round(float(x), 3) for x in sweep[3](jnp.arange(8))]
      [0.04, 0.28, 0.76, 1.0, 0.854, 0.5, 0.146, 0.0]
      >>> sweep(jnp.arange(8)).shape
      (8, 4)
    """
    from onecycle_jax._build import onecycle
    from onecycle_jax._onecycle import OneCycle

    given = {
        "max_lr": max_lr,
        "total_steps": total_steps,
        "pct_start": pct_start,
        "base_momentum": base_momentum,
        "max_momentum": max_momentum,
        "div_factor": div_factor,
        "final_div_factor": final_div_factor,
        "last_epoch": last_epoch,
    }
    columns = {name: _values(name, value) for name, value in given.items()}
    # onecycle checks the static options, and one configuration as a whole.
    first = {name: column[0] for name, column in columns.items()}
    onecycle(
        **first,
        anneal_strategy=anneal_strategy,
        cycle_momentum=cycle_momentum,
        three_phase=three_phase,
        verbose=verbose,
    )
    if not _validate.is_traced(columns["pct_start"]):
        for value in columns["pct_start"]:
            _validate.host_pct_start(value, three_phase)

    traced = any(_validate.is_traced(c) for c in columns.values())
    xp = jnp if traced else np
    mesh = xp.meshgrid(*(columns[name] for name in _AXES), indexing="ij")
    leaves = {name: axis.reshape(-1) for name, axis in zip(_AXES, mesh, strict=True)}
    _validate.host_lr_range(
        leaves["max_lr"], leaves["div_factor"], leaves["final_div_factor"]
    )

    return OneCycle(
        anneal_strategy=anneal_strategy,
        three_phase=three_phase,
        cycle_momentum=cycle_momentum,
        verbose=verbose,
        **leaves,
    )


def _is_listed(value: Any) -> bool:
    if isinstance(value, str | bytes):
        return False
    if isinstance(value, np.ndarray | jax.Array):
        if value.ndim > 1:
            raise ValueError(
                f"a swept value must be a number or a 1-D list of numbers, "
                f"got an array of shape {value.shape}"
            )
        return value.ndim == 1
    return isinstance(value, Sequence | range)


def _check_one(name: str, value: Any) -> Any:
    if name in _INTEGER:
        return _validate.host_int(name, value)
    return _validate.host_float(name, value)


def _values(name: str, value: Any) -> Any:
    """The values of one axis as a 1-D array, each checked on the host."""
    try:
        listed = _is_listed(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if not listed:
        return _check_one(name, value)[None]
    if _validate.is_traced(value):
        # Traced values are checked in compiled code, by onecycle_jax.check.
        return value
    if len(value) == 0:
        raise ValueError(f"{name} must list at least one value, got {value!r}")
    dtype = np.int64 if name in _INTEGER else np.float64
    return np.asarray([_check_one(name, item) for item in value], dtype)


def _shapes(schedule: OneCycle) -> dict[str, tuple[int, ...]]:
    return {
        f.name: tuple(np.shape(getattr(schedule, f.name)))
        for f in dataclasses.fields(schedule)
        if f.name in _AXES
    }


def size(schedule: OneCycle) -> int:
    """The number of configurations in a grid; backs ``len(grid)``.

    Raises:
      TypeError: ``schedule`` is not a grid (its leaves do not all share one
        leading axis), e.g. a single schedule.

    Examples:
      >>> import onecycle_jax as oc
      >>> len(oc.grid(max_lr=[0.1, 0.2, 0.4], total_steps=[10, 20]))
      6
    """
    shapes = _shapes(schedule)
    leading = {shape[0] if shape else None for shape in shapes.values()}
    if len(leading) != 1 or None in leading:
        described = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise TypeError(
            "only a sweep built by onecycle_jax.grid has a length and items: its "
            "hyperparameters share one leading axis, but these have shapes "
            f"{described}"
        )
    return leading.pop()


def select(schedule: OneCycle, index: Any) -> OneCycle:
    """Configuration ``index`` of a grid, or a smaller grid for a slice.

    Backs ``grid[index]``. An integer gives a schedule with scalar leaves,
    the one :func:`~onecycle_jax.onecycle` builds from the same values.

    Examples:
      >>> import onecycle_jax as oc
      >>> sweep = oc.grid(max_lr=[0.1, 0.2, 0.4], total_steps=100)
      >>> sweep[-1]  # doctest: +ELLIPSIS
      OneCycle(max_lr=0.4, total_steps=100, pct_start=0.3, ...)
      >>> len(sweep[:2])
      2
    """
    count = size(schedule)
    if isinstance(index, bool | np.bool_):
        raise TypeError(f"a grid is indexed by an integer or a slice, got {index!r}")
    if isinstance(index, numbers.Integral | np.integer):
        # JAX clamps an index past the end; raise, as a sequence must.
        position = operator.index(index)
        if not -count <= position < count:
            raise IndexError(
                f"configuration index {position} is out of range for a grid of "
                f"{count} configurations"
            )

    def pick(leaf: Any) -> Any:
        item = leaf[index]
        return np.asarray(item) if isinstance(leaf, np.ndarray) else item

    picked = {name: pick(getattr(schedule, name)) for name in _AXES}
    return dataclasses.replace(schedule, **picked)


def to_dicts(schedule: OneCycle) -> list[dict[str, Any]]:
    """Each configuration of a grid as a dict of plain Python values.

    Backs ``grid.to_dicts()``. The keys are the arguments of
    :func:`~onecycle_jax.onecycle`, static options included, so
    ``onecycle(**grid.to_dicts()[i])`` rebuilds configuration ``i``.

    Examples:
      >>> import onecycle_jax as oc
      >>> sweep = oc.grid(max_lr=0.5, pct_start=[0.2, 0.4], total_steps=50)
      >>> [(d["pct_start"], d["total_steps"]) for d in sweep.to_dicts()]
      [(0.2, 50), (0.4, 50)]
    """
    count = size(schedule)
    columns = {
        f.name: (
            np.asarray(getattr(schedule, f.name)).tolist()
            if f.name in _AXES
            else [getattr(schedule, f.name)] * count
        )
        for f in dataclasses.fields(schedule)
    }
    return [{name: column[i] for name, column in columns.items()} for i in range(count)]
