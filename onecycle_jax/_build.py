"""``onecycle`` and its pure-function forms: check the arguments, build the pytree."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from onecycle_jax import _validate
from onecycle_jax._onecycle import OneCycle

_STRATEGIES = ("cos", "linear")


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
