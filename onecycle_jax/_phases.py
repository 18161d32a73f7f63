"""The phase arithmetic of a one cycle: where each phase ends, and the
annealed value at a step.

PyTorch's OneCycleLR places the phase ends at ``pct_start * T - 1``
(``2 * pct_start * T - 2`` for the middle of three phases) and ``T - 1``.
Those ends are fractional, and near them the textbook formula
``end + (start - end) / 2 * (cos(pi * pct) + 1)`` cancels catastrophically
in float32. Two things keep every step exact to a few float32 ulps:

- a phase end is held as an integer part plus a small float fraction, so the
  distance from a step to either end of its phase is an exact integer
  difference plus a fraction;
- the cosine is written in half-angle form, ``sin(pi / 2 * x) ** 2``, on the
  distance to the *nearer* end, so no term is a difference of two numbers
  that are almost equal.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from onecycle_jax._validate import INT32_MAX, is_traced


def float_dtype() -> jnp.dtype:
    """float64 under ``jax_enable_x64``, float32 otherwise."""
    return jnp.dtype(jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)


class Boundary(NamedTuple):
    """A phase end at step ``whole + frac``, with ``whole >= 0``.

    ``last`` is the last whole step inside the phase, ``floor(whole + frac)``,
    taken before ``frac`` is rounded to the float dtype: a fraction just
    below 1 would round up to it in float32 and move a step into the wrong
    phase.
    """

    whole: jax.Array  # int32
    frac: jax.Array  # float, in (-2, 2)
    last: jax.Array  # int32


def _split(whole: Any, frac: Any, xp: Any) -> tuple[Any, Any]:
    # Negative ends (a warm-up shorter than a step) keep whole at 0 so that
    # no integer difference below can leave the int32 range.
    clipped = xp.maximum(whole, 0)
    return clipped, frac + (whole - clipped).astype(frac.dtype)


def phase_ends(
    pct_start: Any, total_steps: Any, three_phase: bool
) -> tuple[Boundary, ...]:
    """The end step of each phase, as PyTorch defines them.

    With concrete ``pct_start`` and ``total_steps`` the ends are computed in
    float64 on the host, exactly as PyTorch does, and split into an int32
    step and a float fraction; with traced values they are computed in the
    default float dtype on the device.
    """
    dtype = float_dtype()
    if not (is_traced(pct_start) or is_traced(total_steps)):
        xp = np
        peak = np.asarray(pct_start, np.float64) * np.asarray(total_steps, np.float64)
        last = np.asarray(total_steps, np.int64) - 1
        # pct_start * T = floor + frac exactly; the ends are whole steps away.
        floor = np.floor(peak)
        frac = peak - floor
        floor = floor.astype(np.int64)
    else:
        xp = jnp
        total = jnp.asarray(total_steps).astype(jnp.int32)
        floor, frac = _exact_product(jnp.asarray(pct_start).astype(dtype), total)
        last = total - 1
    ends = [(*_split(floor - 1, frac, xp), floor - 1)]
    if three_phase:
        # 2 * frac may reach past 1: one more whole step inside the phase.
        inside = 2 * floor - 2 + (2 * frac >= 1).astype(floor.dtype)
        ends.append((*_split(2 * floor - 2, 2 * frac, xp), inside))
    ends.append((last, xp.zeros_like(frac), last))
    return tuple(
        Boundary(
            jnp.asarray(whole).astype(jnp.int32),
            jnp.asarray(f).astype(dtype),
            jnp.asarray(inside).astype(jnp.int32),
        )
        for whole, f, inside in ends
    )


def _exact_product(pct: jax.Array, total: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``pct * total`` as an int32 floor plus a fraction in [0, 1), on device.

    A plain float32 product is off by up to half an ulp of ``pct * total``
    (0.125 of a step at 3e6 steps), which moves a phase end; over a phase a
    few steps wide that is a large error. Split ``total`` into a multiple of
    4096 and a rest (each exact in float32) and take each product exactly
    (Dekker's two-product), so that only the rounding of ``pct`` itself
    remains.
    """
    dtype = pct.dtype
    rest = total % 4096
    pieces = []
    for whole in ((total - rest).astype(dtype), rest.astype(dtype)):
        product, error = _two_product(pct, whole)
        floor = jnp.floor(product)
        pieces.append((floor, product - floor + error))
    fraction = pieces[0][1] + pieces[1][1]
    carry = jnp.floor(fraction)
    floor = pieces[0][0].astype(jnp.int32) + pieces[1][0].astype(jnp.int32)
    return floor + carry.astype(jnp.int32), fraction - carry


def _two_product(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    # a * b == product + error exactly: halves of at most 12 (float32) or 27
    # (float64) bits multiply without rounding, whatever FMA the compiler uses.
    product = a * b
    a_hi, a_lo = _halves(a)
    b_hi, b_lo = _halves(b)
    error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return product, error


def _halves(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    scale = 4097.0 if x.dtype == jnp.float32 else 134217729.0  # 2**12+1, 2**27+1
    scaled = x * scale
    high = scaled - (scaled - x)
    return high, x - high


def as_count(count: Any) -> Any:
    """Checks a count on the host and narrows a concrete one to int32.

    Concrete counts are clipped to ``[0, 2**31 - 1]`` before they reach
    ``jax.jit``, which would otherwise wrap a NumPy int64 or a large Python
    int to int32 (or refuse it). JAX arrays and traced counts keep their
    dtype, and :func:`steps` clips them inside the program.
    """
    if isinstance(count, numbers.Integral) and not isinstance(count, bool | np.bool_):
        return np.int32(min(max(int(count), 0), INT32_MAX))
    if isinstance(count, list | tuple | np.ndarray | np.generic):
        count = np.asarray(count)
    dtype = count.dtype if isinstance(count, jax.Array | np.ndarray) else None
    if dtype is None or dtype == np.bool_ or not jnp.issubdtype(dtype, jnp.integer):
        described = repr(count) if dtype is None else f"dtype {dtype}"
        raise TypeError(
            "count must be an integer or an integer array of update counts, got "
            f"{described}; optax passes int32 counts, so pass an int or "
            "jnp.arange(n)"
        )
    if isinstance(count, np.ndarray):
        return np.clip(count, 0, INT32_MAX).astype(np.int32)
    return count


def steps(count: Any, total_steps: Any, last_epoch: Any) -> tuple[jax.Array, ...]:
    """PyTorch's step for each optax count, and where the cycle is over.

    Returns ``(step, done)``: ``step = count + last_epoch + 1`` clipped to
    ``[last_epoch + 1, total_steps - 1]`` as int32, and ``done`` where the
    unclipped step is at or past ``total_steps``. No sum can overflow, even
    for a count of ``2**31 - 1``.
    """
    count = jnp.asarray(count)  # checked by as_count
    if count.dtype.itemsize >= 4:
        count = jnp.clip(count, 0, INT32_MAX)
    count = jnp.maximum(count.astype(jnp.int32), 0)
    total = jnp.asarray(total_steps).astype(jnp.int32)
    offset = jnp.asarray(last_epoch).astype(jnp.int32) + 1
    done = count >= total - offset
    step = jnp.where(done, total - 1, count + offset)
    return step, done


def locate(step: jax.Array, ends: tuple[Boundary, ...]) -> tuple[jax.Array, ...]:
    """The phase of each step and its fractional distance to both phase ends.

    Returns ``(phase, near_start, weight)``: ``phase`` indexes ``ends``,
    ``near_start`` says which end is nearer, and ``weight`` is the fraction
    of the phase between the step and that nearer end (0 at the end itself).
    A phase of zero width counts as finished: its end value applies.
    """
    dtype = ends[0].frac.dtype
    phase = jnp.full(step.shape, len(ends) - 1, jnp.int32)
    # PyTorch takes the first phase whose end is not before the step.
    for index in reversed(range(len(ends) - 1)):
        phase = jnp.where(step <= ends[index].last, index, phase)
    zero = Boundary(
        jnp.zeros((), jnp.int32), jnp.zeros((), dtype), jnp.zeros((), jnp.int32)
    )
    starts = (zero, *ends[:-1])
    start = _pick(phase, starts)
    end = _pick(phase, ends)
    from_start = (step - start.whole).astype(dtype) - start.frac
    to_end = (end.whole - step).astype(dtype) + end.frac
    width = from_start + to_end
    safe = jnp.where(width > 0, width, 1)
    near_start = (from_start <= to_end) & (width > 0)
    weight = jnp.where(near_start, from_start, jnp.where(width > 0, to_end, 0)) / safe
    return phase, near_start, weight


def _pick(phase: jax.Array, boundaries: tuple[Boundary, ...]) -> Boundary:
    whole, frac, last = boundaries[-1]
    for index in reversed(range(len(boundaries) - 1)):
        whole = jnp.where(phase == index, boundaries[index].whole, whole)
        frac = jnp.where(phase == index, boundaries[index].frac, frac)
    return Boundary(whole, frac, last)


def anneal(
    located: tuple[jax.Array, ...],
    values: tuple[jax.Array, ...],
    strategy: str,
) -> jax.Array:
    """The annealed value at each located step.

    Args:
      located: the output of :func:`locate`.
      values: the value at each phase boundary, starting one: ``values[i]``
        starts phase ``i`` and ``values[i + 1]`` ends it.
      strategy: ``"cos"`` or ``"linear"``.
    """
    phase, near_start, weight = located
    start = values[-2]
    end = values[-1]
    for index in reversed(range(len(values) - 2)):
        start = jnp.where(phase == index, values[index], start)
        end = jnp.where(phase == index, values[index + 1], end)
    if strategy == "cos":
        # (1 + cos(pi * p)) / 2 == sin(pi / 2 * (1 - p)) ** 2, with no cancellation.
        weight = jnp.square(jnp.sin(weight * (np.pi / 2)))
    origin = jnp.where(near_start, start, end)
    target = jnp.where(near_start, end, start)
    return origin + (target - origin) * weight


# One compiled program: run eagerly, operation by operation, the curve would
# compile each of its few dozen operations anew for every count shape.
@functools.partial(jax.jit, static_argnames=("strategy", "group_shape"))
def curve(
    count: Any,
    total_steps: Any,
    last_epoch: Any,
    ends: tuple[Boundary, ...],
    values: tuple[jax.Array, ...],
    final: jax.Array,
    strategy: str,
    group_shape: tuple[int, ...],
) -> jax.Array:
    """The value at each count: :func:`steps`, :func:`locate`, :func:`anneal`.

    Returns an array of shape ``count.shape + group_shape``; counts at or past
    the cycle's end take ``final``.
    """
    # Trailing axes first, so that a total_steps or last_epoch with a
    # leading axis (a grid) broadcasts against them, not against count.
    count = jnp.asarray(count)
    shape = count.shape + group_shape
    count = count.reshape(count.shape + (1,) * len(group_shape))
    step, done = steps(count, total_steps, last_epoch)
    located = locate(step, ends)
    value = jnp.where(done, final, anneal(located, values, strategy))
    # Per-group values of only some hyperparameters still give every group.
    return jnp.broadcast_to(value, shape)
