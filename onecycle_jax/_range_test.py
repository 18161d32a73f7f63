"""The learning-rate range test: a short sweep of rising learning rates.

Smith's way to choose ``max_lr``: train briefly while the learning rate
grows from tiny to huge, watch the loss, and take a value from where it
still falls steeply, well before it blows up. The whole sweep is one
``lax.scan``, so it can be jitted and vmapped over seeds or data orders.
"""

from __future__ import annotations

import collections.abc
import functools
import itertools
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from onecycle_jax import _phases, _validate
from onecycle_jax._range_result import RangeTestResult

_STEP_MODES = ("exp", "linear")


def _positive(name: str, value: Any) -> Any:
    if _validate.is_traced(value):
        return value
    if not isinstance(value, numbers.Real | np.ndarray | jax.Array) or isinstance(
        value, bool | np.bool_
    ):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    array = np.asarray(value, np.float64)
    if array.ndim != 0 or not (np.isfinite(array) and array > 0):
        raise ValueError(f"{name} must be a positive, finite scalar, got {value!r}")
    return array


def _representable(name: str, value: Any, dtype: Any) -> Any:
    # A value that overflows the default float dtype, or falls below its
    # smallest normal number (XLA on CPU flushes subnormals to zero), would
    # reach the sweep as inf or 0.
    if _validate.is_traced(value):
        return value
    info = jnp.finfo(dtype)
    if not float(info.tiny) <= value <= float(info.max):
        raise ValueError(
            f"{name} must lie between {float(info.tiny):.4g} and "
            f"{float(info.max):.4g} to be a finite, normal {info.dtype} number "
            f"(the default float dtype), got {float(value)}"
        )
    return value


def _grid(start_lr: Any, end_lr: Any, num_steps: int, step_mode: str) -> jax.Array:
    dtype = _phases.float_dtype()
    traced = _validate.is_traced(start_lr) or _validate.is_traced(end_lr)
    # A concrete grid is built in float64 and rounded once, so its ends are
    # start_lr and end_lr exactly.
    xp = jnp if traced else np
    if not traced:
        start_lr, end_lr = np.float64(start_lr), np.float64(end_lr)
    fraction = xp.linspace(0.0, 1.0, num_steps)
    if step_mode == "exp":
        lrs = start_lr * (end_lr / start_lr) ** fraction
    else:
        lrs = start_lr + (end_lr - start_lr) * fraction
    return jnp.asarray(lrs).astype(dtype)


def _stack(batches: Any, num_steps: int, key: Any) -> Any:
    if isinstance(batches, collections.abc.Iterator):
        taken = list(itertools.islice(batches, num_steps))
        if len(taken) < num_steps:
            raise ValueError(
                f"batches ran out after {len(taken)} batches; num_steps={num_steps} "
                "needs that many"
            )
        batches = jax.tree.map(lambda *rows: jnp.stack(rows), *taken)
    leaves = jax.tree.leaves(batches)
    if not leaves:
        raise ValueError("batches must hold at least one array, got an empty pytree")
    rows = {np.shape(leaf)[0] if np.ndim(leaf) else 0 for leaf in leaves}
    if len(rows) != 1 or min(rows) < num_steps:
        raise ValueError(
            "batches must have a leading step axis of at least num_steps="
            f"{num_steps} rows on every leaf, got leading sizes {sorted(rows)}"
        )
    if key is not None:
        order = jax.random.permutation(key, rows.pop())
        batches = jax.tree.map(lambda leaf: jnp.asarray(leaf)[order], batches)
    return jax.tree.map(lambda leaf: leaf[:num_steps], batches)


@functools.partial(jax.jit, static_argnames=("loss_fn", "optimizer"))
def _sweep(loss_fn, optimizer, params, batches, lrs, smooth, diverge_threshold):
    dtype = lrs.dtype
    last = lrs.shape[0] - 1
    tx = optimizer(learning_rate=lambda count: lrs[jnp.minimum(count, last)])

    def step(carry, batch):
        params, state, smoothed, best, index, stopped, held = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        loss = jnp.asarray(loss).astype(dtype)
        # The bias-corrected average itself is carried: it is the raw one
        # divided by 1 - (1 - smooth) ** (i + 1), so each loss weighs in with
        # smooth over that. expm1 and log1p keep the weight exact for a
        # smooth so small that 1 - smooth rounds to 1 (then it is 1 / (i + 1),
        # a running mean).
        steps = (index + 1).astype(dtype)
        weight = smooth / -jnp.expm1(steps * jnp.log1p(-smooth))
        smoothed = (1 - weight) * smoothed + weight * loss
        best = jnp.minimum(best, smoothed)
        blown = ~jnp.isfinite(smoothed) | (smoothed > diverge_threshold * best)
        stopped = stopped | blown
        updates, new_state = tx.update(grads, state, params)
        new_params = optax.apply_updates(params, updates)
        params, state = jax.tree.map(
            lambda old, new: jnp.where(stopped, old, new),
            (params, state),
            (new_params, new_state),
        )
        held = jnp.where(stopped, held, jnp.stack([loss, smoothed]))
        return (params, state, smoothed, best, index + 1, stopped, held), (
            held,
            stopped,
        )

    zero = jnp.zeros((), dtype)
    carry = (
        params,
        tx.init(params),
        zero,
        jnp.asarray(jnp.inf, dtype),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), bool),
        jnp.zeros((2,), dtype),
    )
    _, (held, stopped) = jax.lax.scan(step, carry, batches)
    return held[:, 0], held[:, 1], jnp.sum(~stopped).astype(jnp.int32)


def lr_range_test(
    loss_fn: Any,
    params: Any,
    batches: Any,
    optimizer: Any = optax.sgd,
    *,
    start_lr: Any = 1e-7,
    end_lr: Any = 10.0,
    num_steps: int = 100,
    step_mode: str = "exp",
    smooth: Any = 0.05,
    diverge_threshold: Any = 5.0,
    key: Any = None,
) -> RangeTestResult:
    """Runs a learning-rate range test: one short run with a rising rate.

    Step ``i`` evaluates ``loss_fn(params, batch_i)`` and its gradient, then
    updates ``params`` with learning rate ``lrs[i]``, which rises from
    ``start_lr`` to ``end_lr`` geometrically (``"exp"``) or evenly
    (``"linear"``). The loss is smoothed by a moving average,
    ``avg = (1 - smooth) * avg + smooth * loss``, divided by
    ``1 - (1 - smooth) ** (i + 1)`` so the start is not biased towards zero
    (computed without cancellation, so a tiny ``smooth`` gives the running
    mean).
    Once the smoothed loss is non-finite or above ``diverge_threshold``
    times the lowest so far (which assumes a positive loss), the sweep makes
    no more updates; see :class:`RangeTestResult` for what it records.

    The sweep is one ``lax.scan`` and a pure function of ``params``,
    ``batches``, ``key`` and the numeric arguments, so it jits and vmaps
    (``jax.vmap(lambda k: lr_range_test(..., key=k))(keys)`` sweeps data
    orders). The caller's ``params`` are not modified.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar``, differentiable in
        ``params``; ``batch`` is one row of ``batches`` (the same pytree,
        leading axis removed). For randomness inside the loss (dropout),
        put a key per step into ``batches``. Pass the same function object
        on every call to reuse the compiled sweep.
      params: the starting parameters, a pytree of arrays.
      batches: a pytree of arrays with a leading step axis of at least
        ``num_steps`` rows (the first ``num_steps`` are used), or an
        iterator of batches, of which ``num_steps`` are taken and stacked.
      optimizer: an optax optimizer factory called as
        ``optimizer(learning_rate=schedule)``, such as ``optax.sgd`` or
        ``functools.partial(optax.sgd, momentum=0.9)``.
      start_lr: the first learning rate, positive.
      end_lr: the last learning rate, larger than ``start_lr``. Both must be
        finite, normal numbers in the default float dtype (float32 unless
        ``jax_enable_x64``).
      num_steps: the number of steps, at least 3, the fewest a suggestion
        reads a slope off (static).
      step_mode: ``"exp"`` or ``"linear"`` (static).
      smooth: the weight of each new loss in the moving average, in (0, 1]
        and no smaller than the default float dtype's smallest normal
        number; 1 turns smoothing off.
      diverge_threshold: the sweep stops when the smoothed loss exceeds this
        multiple of its best; greater than 1.
      key: if given, a PRNG key that shuffles the rows of ``batches`` before
        the first ``num_steps`` are taken (every row, not only those).

    Returns:
      A :class:`RangeTestResult`.

    Raises:
      TypeError: an argument has the wrong type.
      ValueError: an argument is out of range, or ``batches`` has too few
        rows; the message names the argument, the value and what is
        allowed. Traced numeric arguments are not checked.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> def loss_fn(w, target):  # curvature 4: SGD diverges above lr 0.5
      ...     return 2.0 * jnp.sum((w - target) ** 2)
      >>> targets = 0.1 * jax.random.normal(jax.random.key(0), (60, 3))
      >>> result = oc.lr_range_test(
      ...     loss_fn, jnp.ones(3), targets, start_lr=1e-3, num_steps=60
      ... )
      >>> int(result.stopped_at), round(float(result.lrs[result.stopped_at]), 3)
      (45, 1.124)
      >>> [round(float(result.suggestion(m)), 3)
      ...  for m in ("steepest", "minimum", "valley")]
      [0.042, 0.06, 0.126]

    References:
      Smith, "Cyclical Learning Rates for Training Neural Networks", 2017,
      arXiv:1506.01186, section 3.3.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {loss_fn!r}")
    if isinstance(optimizer, optax.GradientTransformation) or not callable(optimizer):
        raise TypeError(
            "optimizer must be an optax optimizer factory taking learning_rate "
            f"(such as optax.sgd), got {optimizer!r}"
        )
    if not isinstance(num_steps, numbers.Integral) or isinstance(num_steps, bool):
        raise TypeError(f"num_steps must be an integer >= 3, got {num_steps!r}")
    if num_steps < 3:
        raise ValueError(
            f"num_steps must be an integer >= 3 (a suggestion reads a slope off "
            f"three steps at least), got {num_steps}"
        )
    if step_mode not in _STEP_MODES:
        raise ValueError(f"step_mode must be 'exp' or 'linear', got {step_mode!r}")
    dtype = _phases.float_dtype()
    start_lr = _representable("start_lr", _positive("start_lr", start_lr), dtype)
    end_lr = _representable("end_lr", _positive("end_lr", end_lr), dtype)
    if not _validate.is_traced(start_lr + end_lr) and start_lr >= end_lr:
        raise ValueError(
            f"start_lr must be smaller than end_lr, got start_lr={float(start_lr)} "
            f"and end_lr={float(end_lr)}"
        )
    smooth = _positive("smooth", smooth)
    if not _validate.is_traced(smooth) and smooth > 1:
        raise ValueError(f"smooth must be in (0, 1], got {float(smooth)}")
    smooth = _representable("smooth", smooth, dtype)
    threshold = diverge_threshold
    if not _validate.is_traced(threshold):
        if not isinstance(threshold, numbers.Real | np.ndarray | jax.Array) or (
            isinstance(threshold, bool | np.bool_)
        ):
            raise TypeError(
                f"diverge_threshold must be a number greater than 1, got {threshold!r}"
            )
        if np.ndim(threshold) != 0 or not np.asarray(threshold, np.float64) > 1:
            raise ValueError(
                f"diverge_threshold must be a scalar greater than 1, got {threshold!r}"
            )

    # The batches are checked before the grid is built: a num_steps beyond
    # their rows is reported as such, not as a failed allocation.
    batches = _stack(batches, int(num_steps), key)
    lrs = _grid(start_lr, end_lr, int(num_steps), step_mode)
    losses, smoothed, stopped_at = _sweep(
        loss_fn,
        optimizer,
        params,
        batches,
        lrs,
        jnp.asarray(smooth).astype(dtype),
        jnp.asarray(threshold).astype(dtype),
    )
    return RangeTestResult(lrs, losses, smoothed, stopped_at, step_mode)
