"""Checks on one-cycle hyperparameters.

Two kinds of check live here, and each function says which it is:

- host checks run when a schedule is built from concrete values (Python or
  NumPy numbers, concrete JAX arrays) and raise ``TypeError`` or
  ``ValueError`` naming the argument, the value and what is allowed;
- in-graph checks (:func:`check`) run inside compiled code on traced values
  through :mod:`jax.experimental.checkify`, so a vmapped sweep can fail
  loudly too.

Both read the same table of rules, so the two never disagree.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

INT32_MAX = int(np.iinfo(np.int32).max)

# name -> (predicate over an array module, what is allowed)
_Rule = tuple[Callable[[Any, Any], Any], str]
FLOAT_RULES: dict[str, _Rule] = {
    "max_lr": (lambda x, xp: (x > 0) & xp.isfinite(x), "positive and finite"),
    "div_factor": (lambda x, xp: (x > 0) & xp.isfinite(x), "positive and finite"),
    "final_div_factor": (
        lambda x, xp: (x > 0) & xp.isfinite(x),
        "positive and finite",
    ),
    "pct_start": (lambda x, xp: (x >= 0) & (x <= 1), "in [0, 1]"),
    "base_momentum": (lambda x, xp: (x >= 0) & (x <= 1), "in [0, 1]"),
    "max_momentum": (lambda x, xp: (x >= 0) & (x <= 1), "in [0, 1]"),
    # The optimizers' own numbers (onecycle_jax.sgd, adam, adamw).
    "weight_decay": (
        lambda x, xp: (x >= 0) & xp.isfinite(x),
        "non-negative and finite",
    ),
    "eps": (lambda x, xp: (x >= 0) & xp.isfinite(x), "non-negative and finite"),
    "b2": (lambda x, xp: (x >= 0) & (x < 1), "in [0, 1.0)"),
}
_OPTIMIZER_ONLY = ("weight_decay", "eps", "b2")
INT_RULES: dict[str, _Rule] = {
    "total_steps": (
        lambda x, xp: (x >= 1) & (x <= INT32_MAX),
        f"a positive integer no larger than 2**31 - 1 = {INT32_MAX}",
    ),
    "epochs": (
        lambda x, xp: (x >= 1) & (x <= INT32_MAX),
        "a positive integer",
    ),
    "steps_per_epoch": (
        lambda x, xp: (x >= 1) & (x <= INT32_MAX),
        "a positive integer",
    ),
    "last_epoch": (
        lambda x, xp: (x >= -1) & (x < INT32_MAX),
        "an integer >= -1 (-1 starts a new cycle)",
    ),
}
PER_GROUP = ("max_lr", "base_momentum", "max_momentum")
THREE_PHASE_RULE = "at most 0.5 when three_phase=True (the phases would overlap)"


def is_traced(value: Any) -> bool:
    """Whether ``value`` is an abstract value inside a JAX transformation."""
    return isinstance(value, jax.core.Tracer)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray | jax.Array) and value.ndim == 0:
        value = value.item()
    return f"{value!r} ({type(value).__name__})"


def _is_real_number(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    # NumPy scalars of JAX's extra dtypes (bfloat16) are no numbers.Real.
    return isinstance(value, numbers.Real) or (
        isinstance(value, np.generic) and _is_real_dtype(value.dtype)
    )


def _is_real_dtype(dtype: Any) -> bool:
    # jnp.issubdtype knows bfloat16 is a float; np.issubdtype does not.
    return dtype != jnp.bool_ and (
        jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)
    )


def host_float(name: str, value: Any, *, per_group: bool = False) -> Any:
    """Host check: returns a float64 NumPy array for a concrete ``value``.

    Traced values are returned unchanged, once their dtype (known while
    tracing) is checked; :func:`check` covers their values.
    """
    if is_traced(value):
        if not _is_real_dtype(value.dtype):
            raise TypeError(
                f"{name} must be a real number, got a traced {value.dtype} value"
            )
        return value
    allowed = "a number" + (", or one per parameter group" if per_group else "")
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{name} must be {allowed}, got {_describe(value)}")
    if isinstance(value, Sequence):
        if not per_group:
            raise TypeError(f"{name} must be {allowed}, got {_describe(value)}")
        if len(value) == 0:
            raise ValueError(f"{name} must have at least one value, got {value!r}")
        for item in value:
            if not _is_real_number(item) and not (
                isinstance(item, np.ndarray | jax.Array) and item.ndim == 0
            ):
                raise TypeError(
                    f"{name} must hold numbers, got {_describe(item)} in {value!r}"
                )
    elif not _is_real_number(value) and not isinstance(value, np.ndarray | jax.Array):
        raise TypeError(f"{name} must be {allowed}, got {_describe(value)}")
    array = np.asarray(value)
    if not _is_real_dtype(array.dtype):
        raise TypeError(f"{name} must be {allowed}, got {_describe(value)}")
    if array.ndim > (1 if per_group else 0):
        raise ValueError(
            f"{name} must be {'a scalar or 1-D' if per_group else 'a scalar'}, "
            f"got shape {array.shape}"
        )
    array = array.astype(np.float64)
    predicate, rule = FLOAT_RULES[name]
    if not np.all(predicate(array, np)):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return array


def host_int(name: str, value: Any) -> Any:
    """Host check: returns an int64 NumPy scalar array for a concrete ``value``.

    Python, NumPy and JAX integers are accepted; bools and floats (even
    ``10.0``) are not. Traced values are returned unchanged, once their
    dtype (known while tracing) is checked.
    """
    _, rule = INT_RULES[name]
    if is_traced(value):
        if value.dtype == jnp.bool_ or not jnp.issubdtype(value.dtype, jnp.integer):
            raise TypeError(f"{name} must be {rule}, got a traced {value.dtype} value")
        return value
    ok_type = isinstance(value, numbers.Integral | np.ndarray | jax.Array) and not (
        isinstance(value, bool | np.bool_)
    )
    array = np.asarray(value) if ok_type else None
    if (
        array is None
        or array.dtype == np.bool_
        or not np.issubdtype(array.dtype, np.integer)
    ):
        raise TypeError(f"{name} must be {rule}, got {_describe(value)}")
    if array.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {array.shape}")
    predicate, _ = INT_RULES[name]
    if not predicate(int(array), np):
        raise ValueError(f"{name} must be {rule}, got {int(array)}")
    return np.asarray(int(array), dtype=np.int64)


def host_group_lengths(**values: Any) -> None:
    """Host check: per-group values agree in length (scalars broadcast)."""
    lengths = {
        name: int(np.shape(v)[0]) for name, v in values.items() if np.ndim(v) == 1
    }
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(
            f"per-group values must have the same length (or be scalars): {described}"
        )


def host_lr_range(max_lr: Any, div_factor: Any, final_div_factor: Any) -> None:
    """Host check: every learning rate of the cycle is a normal float.

    The checks above run in float64; a value they pass can still overflow
    to inf, or vanish, in the float32 the schedule computes in.
    """
    values = (max_lr, div_factor, final_div_factor)
    if any(is_traced(v) for v in values):
        return
    info = np.finfo(np.dtype(jnp.float64 if jax.config.jax_enable_x64 else np.float32))
    peak = np.asarray(max_lr, np.float64)
    initial = peak / np.asarray(div_factor, np.float64)
    low = initial / np.asarray(final_div_factor, np.float64)
    for label, value in (
        ("max_lr", peak),
        ("initial_lr = max_lr / div_factor", initial),
        ("min_lr = max_lr / div_factor / final_div_factor", low),
    ):
        if not np.all((value >= info.tiny) & (value <= info.max)):
            raise ValueError(
                f"{label} must lie between {info.tiny:.3g} and {info.max:.3g}, "
                f"the normal numbers of {info.dtype}, got {value.tolist()}"
            )


def host_pct_start(pct_start: Any, three_phase: bool) -> None:
    """Host check: three-phase cycles need ``pct_start <= 0.5``."""
    if three_phase and not is_traced(pct_start) and np.any(pct_start > 0.5):
        raise ValueError(f"pct_start must be {THREE_PHASE_RULE}, got {pct_start}")


def check(schedule: Any, *, adam: bool = False) -> None:
    """Checks a schedule's traced hyperparameters inside compiled code.

    Host values are checked when a schedule is built; values that are
    traced (a ``jax.vmap`` sweep, a schedule passed into ``jax.jit``) cannot
    be, so call this under :func:`jax.experimental.checkify.checkify` to
    check them with the same rules and messages: each hyperparameter's
    range, ``pct_start`` of a three-phase cycle, and that ``initial_lr`` and
    ``min_lr`` are normal numbers of the float dtype. A traced
    ``epochs * steps_per_epoch`` that overflows int32, or has a factor below
    1, reaches the schedule as ``total_steps`` 0, which this reports.

    Args:
      schedule: a :class:`~onecycle_jax.OneCycle`.
      adam: also require both momenta below 1, as Adam's ``b1`` must be
        (:func:`onecycle_jax.adam` checks concrete values itself).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jax.experimental import checkify
      >>> import onecycle_jax as oc
      >>> def lr_at(max_lr, count):
      ...     sched = oc.onecycle(max_lr, total_steps=100)
      ...     oc.check(sched)
      ...     return sched(count)
      >>> checked = jax.jit(checkify.checkify(lr_at))
      >>> err, lr = checked(jnp.float32(-1.0), 10)
      >>> print(err.get())  # doctest: +ELLIPSIS
      max_lr must be positive and finite, got -1.0 ...
    """
    for name, (predicate, rule) in FLOAT_RULES.items():
        if name in _OPTIMIZER_ONLY:
            continue
        value = jnp.asarray(getattr(schedule, name))
        checkify.check(
            jnp.all(predicate(value, jnp)), f"{name} must be {rule}, got {{}}", value
        )
    for name in ("total_steps", "last_epoch"):
        predicate, rule = INT_RULES[name]
        value = jnp.asarray(getattr(schedule, name))
        checkify.check(
            jnp.all(predicate(value, jnp)), f"{name} must be {rule}, got {{}}", value
        )
    if schedule.three_phase:
        value = jnp.asarray(schedule.pct_start)
        checkify.check(
            jnp.all(value <= 0.5),
            f"pct_start must be {THREE_PHASE_RULE}, got {{}}",
            value,
        )
    info = jnp.finfo(jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    for label, value in (
        ("initial_lr", schedule.initial_lr),
        ("min_lr", schedule.min_lr),
    ):
        checkify.check(
            jnp.all(jnp.isfinite(value) & (value >= info.tiny)),
            f"{label} must be a normal {info.dtype} number, got {{}}",
            value,
        )
    if adam:
        for name in ("base_momentum", "max_momentum"):
            value = jnp.asarray(getattr(schedule, name))
            checkify.check(
                jnp.all(value < 1),
                f"{name} must be below 1 for Adam's b1, got {{}}",
                value,
            )
