"""Properties of the schedule that hold for every configuration."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.extend import core as jax_core

import onecycle_jax as oc
from benchmarks.torch_replica import boundaries, torch_curve

# One count shape for every example: the curve compiles once per shape.
COUNTS = np.arange(-3, 2045)


@st.composite
def configs(draw, max_total=2000):
    three_phase = draw(st.booleans())
    total = draw(st.integers(1, max_total))
    positive = st.floats(0.05, 50.0)
    # No subnormals: float32 would flush them, which says nothing about us.
    momenta = st.one_of(st.just(0.0), st.floats(1e-6, 1.0))
    return dict(
        max_lr=draw(st.floats(1e-6, 10.0)),
        total_steps=total,
        pct_start=draw(st.floats(0.0, 0.5 if three_phase else 1.0)),
        anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
        div_factor=draw(positive),
        final_div_factor=draw(st.floats(0.5, 1e5)),
        base_momentum=draw(momenta),
        max_momentum=draw(momenta),
        three_phase=three_phase,
        last_epoch=draw(st.integers(-1, total)),
    )


def _phase_of(steps: np.ndarray, ends: list[float]) -> np.ndarray:
    running = np.maximum.accumulate(np.asarray(ends[:-1]))
    return np.searchsorted(running, steps, side="left")


@settings(max_examples=60, deadline=None)
@given(configs())
def test_bounded_monotone_and_continuous(kwargs):
    sched = oc.onecycle(**kwargs)
    offset = kwargs["last_epoch"] + 1
    steps = np.clip(COUNTS, 0, None) + offset
    inside = steps < kwargs["total_steps"]
    for what, values in (
        ("lr", sched.lr(COUNTS)),
        ("momentum", sched.momentum(COUNTS)),
    ):
        values = np.asarray(values, np.float64)
        corners, ends = boundaries(kwargs, what)
        low, high = min(corners), max(corners)
        assert np.all(np.isfinite(values))
        tol = 4e-6 * high
        assert np.all((values >= low - tol) & (values <= high + tol)), what
        # Held first values before the start, final values from the end on.
        np.testing.assert_array_equal(values[:4], values[3])
        np.testing.assert_allclose(values[~inside], corners[-1], rtol=1e-6)
        phase = _phase_of(steps, ends)
        for index in range(len(ends)):
            run = values[inside & (phase == index)]
            rising = float(corners[index + 1] - corners[index])
            assert np.all(np.diff(run) * np.sign(rising) >= -tol), (what, index)
        # Continuous: between two steps the value moves no further than the
        # phases they span allow (a cosine's slope is at most pi / 2 times a
        # line's), so there is no jump at a phase end.
        run = values[3:][inside[3:]]
        lower = steps[3:][inside[3:]][:-1].astype(np.float64)
        allowed = np.zeros_like(lower)
        starts = [0.0, *ends[:-1]]
        for begin, end, rise in zip(
            starts, ends, np.abs(np.diff(corners)), strict=True
        ):
            overlap = np.clip(
                np.minimum(lower + 1, end) - np.maximum(lower, begin), 0, None
            )
            if end > begin:
                allowed += rise * np.minimum(1.0, np.pi / 2 * overlap / (end - begin))
        assert np.all(np.abs(np.diff(run)) <= allowed * (1 + 1e-5) + tol), what


@settings(max_examples=25, deadline=None)
@given(configs(max_total=300))
def test_matches_torch_arithmetic(kwargs):
    """Random configurations against PyTorch's arithmetic (see torch_replica)."""
    sched = oc.onecycle(**kwargs)
    offset = kwargs["last_epoch"] + 1
    counts = np.arange(2045)
    steps = counts + offset
    inside = steps < kwargs["total_steps"]
    torch_lr, torch_momentum = torch_curve(steps[inside], kwargs)
    for ours, theirs in (
        (sched.lr(counts), torch_lr),
        (sched.momentum(counts), torch_momentum),
    ):
        ours = np.asarray(ours, np.float64)[inside]
        np.testing.assert_allclose(ours, theirs, rtol=4e-6, atol=1e-30)


def test_phase_end_values_are_hit_exactly():
    # pct_start * total_steps = 30: the peak is PyTorch's step 29.
    sched = oc.onecycle(2.0, 100, three_phase=True)
    np.testing.assert_allclose(
        sched(jnp.asarray([0, 29, 58, 99])), [0.08, 2.0, 0.08, 8e-6], rtol=1e-6
    )
    np.testing.assert_allclose(
        sched.momentum(jnp.asarray([0, 29, 58, 99])),
        [0.95, 0.85, 0.95, 0.95],
        rtol=1e-6,
    )
    assert [float(e) for e in sched.phase_ends] == [29.0, 58.0, 99.0]
    assert float(sched.initial_lr) == pytest.approx(0.08)
    assert float(sched.min_lr) == pytest.approx(8e-6)


SCHED = oc.onecycle([0.1, 0.3], 50, pct_start=0.27, three_phase=True, last_epoch=3)
MANY = jnp.arange(-5, 60)


def test_jit_and_vmap_over_counts_equal_eager():
    eager = SCHED(MANY), SCHED.momentum(MANY)
    jitted = jax.jit(lambda c: (SCHED(c), SCHED.momentum(c)))(MANY)
    mapped = jax.vmap(lambda c: (SCHED(c), SCHED.momentum(c)))(MANY)
    scalar = [jax.jit(SCHED)(int(c)) for c in MANY[:7]]
    for ours in (jitted, mapped):
        np.testing.assert_array_equal(ours[0], eager[0])
        np.testing.assert_array_equal(ours[1], eager[1])
    np.testing.assert_array_equal(np.stack(scalar), eager[0][:7])


SWEPT = {
    "max_lr": [0.01, 0.1, 1.0, 3.0],
    "pct_start": [0.0, 0.1, 0.25, 0.5],
    "div_factor": [0.5, 1.0, 25.0, 1e3],
    "final_div_factor": [1.0, 10.0, 1e4, 1e6],
    "base_momentum": [0.0, 0.5, 0.85, 0.99],
    "max_momentum": [0.0, 0.9, 0.95, 1.0],
    "total_steps": [1, 7, 50, 64],
    "last_epoch": [-1, 0, 10, 63],
}


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("name", list(SWEPT))
def test_vmap_over_each_hyperparameter(name, three_phase):
    dtype = jnp.int32 if name in ("total_steps", "last_epoch") else jnp.float32
    swept = jnp.asarray(SWEPT[name], dtype)
    base = dict(
        max_lr=0.2, total_steps=40, anneal_strategy="linear", three_phase=three_phase
    )

    def curve(value):
        sched = oc.onecycle(**{**base, name: value})
        return sched(MANY), sched.momentum(MANY)

    lr, momentum = jax.vmap(curve)(swept)
    for row, value in enumerate(SWEPT[name]):
        eager_lr, eager_momentum = curve(value)
        np.testing.assert_allclose(lr[row], eager_lr, rtol=4e-6, atol=1e-7)
        np.testing.assert_allclose(momentum[row], eager_momentum, rtol=4e-6, atol=1e-7)


def test_one_trace_for_many_counts():
    traces = []

    @jax.jit
    def lr(count):
        traces.append(count)
        return SCHED(count)

    for count in range(-3, 70):
        lr(jnp.int32(count))
    assert len(traces) == 1
    assert lr._cache_size() == 1


def _primitives(sched) -> set[str]:
    """Every primitive in the jaxpr of the schedule, nested ones included."""
    closed = jax.make_jaxpr(lambda c: (sched(c), sched.momentum(c)))(jnp.int32(3))
    names, todo = set(), [closed.jaxpr]
    while todo:
        jaxpr = todo.pop()
        for eqn in jaxpr.eqns:
            names.add(eqn.primitive.name)
            todo.extend(jax_core.jaxprs_in_params(eqn.params))
    return names


def test_no_host_callback_unless_verbose():
    quiet = _primitives(SCHED)
    assert "sin" in quiet  # the walk reaches inside the compiled curve
    assert not any("callback" in name or "print" in name for name in quiet)
    assert "debug_print" in _primitives(oc.onecycle(0.1, 10, verbose=True))


def test_verbose_prints_inside_jit(capfd):
    loud = oc.onecycle(0.1, 10, verbose=True)
    jax.block_until_ready(jax.jit(loud)(jnp.int32(2)))
    jax.effects_barrier()
    out = capfd.readouterr().out
    assert "count 2" in out
    assert "0.1" in out


INT32_MAX = 2**31 - 1


@pytest.mark.parametrize(
    "dtype", [jnp.int8, jnp.uint8, jnp.int16, jnp.uint16, jnp.uint32, jnp.int32]
)
def test_count_dtypes(dtype):
    info = jnp.iinfo(dtype)
    counts = np.asarray([info.min, 0, 1, 5, 17, info.max], np.int64)
    sched = oc.onecycle(0.1, 20)
    ours = sched(jnp.asarray(counts, dtype))
    expected = sched(jnp.asarray(np.clip(counts, -1, 20), jnp.int32))
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("dtype", [jnp.int64, jnp.uint64, jnp.int32])
def test_count_dtypes_x64(dtype):
    with jax.enable_x64(True):
        info = jnp.iinfo(dtype)
        counts = np.asarray([0, 3, 20, INT32_MAX, info.max], np.uint64)
        if info.min < 0:
            counts = np.asarray([info.min, *counts[:-1].astype(np.int64), info.max])
        sched = oc.onecycle(0.1, 20, last_epoch=2)
        ours = sched(jnp.asarray(counts, dtype))
        assert ours.dtype == jnp.float64
        expected = sched(
            jnp.asarray(np.clip(counts.astype(np.float64), -1, 20).astype(np.int32))
        )
        np.testing.assert_array_equal(ours, expected)


def test_largest_counts_never_overflow():
    biggest = oc.onecycle(0.1, INT32_MAX, last_epoch=INT32_MAX - 2)
    counts = jnp.asarray([0, 1, 2, INT32_MAX], jnp.int32)
    np.testing.assert_allclose(biggest(counts)[1:], biggest.min_lr, rtol=1e-6)
    assert np.all(np.isfinite(biggest(counts)))
    sched = oc.onecycle(0.1, 20, last_epoch=19)
    np.testing.assert_allclose(sched(jnp.int32(INT32_MAX)), sched.min_lr, rtol=1e-6)


def test_negative_counts_hold_the_first_values():
    sched = oc.onecycle(0.1, 30, last_epoch=4)
    np.testing.assert_array_equal(sched(jnp.asarray([-(2**31), -7, -1])), sched(0))
    np.testing.assert_array_equal(
        sched.momentum(jnp.asarray([-5, -1])), sched.momentum(0)
    )


@pytest.mark.parametrize("three_phase", [False, True])
def test_past_the_end_holds_min_lr_and_final_momentum(three_phase):
    sched = oc.onecycle(
        0.1, 30, pct_start=0.4, three_phase=three_phase, base_momentum=0.8
    )
    later = jnp.asarray([30, 31, 10**6])
    np.testing.assert_allclose(sched(later), sched.min_lr, rtol=1e-6)
    np.testing.assert_allclose(sched.momentum(later), 0.95, rtol=1e-6)


def test_zero_width_warmup_takes_its_end_value():
    # pct_start * total_steps = 1: the warm-up ends at step 0, where it began.
    sched = oc.onecycle(0.1, 10, pct_start=0.1)
    assert float(sched(0)) == pytest.approx(0.1)
    assert float(sched.momentum(0)) == pytest.approx(0.85)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_lr=[0.1, 0.2, 0.3]),
        dict(base_momentum=[0.8, 0.85, 0.9]),
        dict(max_momentum=[0.9, 0.95, 0.99]),
        dict(max_momentum=[0.9, 0.95, 0.99], cycle_momentum=False),
    ],
)
def test_per_group_shapes(kwargs):
    """Any per-group argument gives every output a group axis."""
    sched = oc.onecycle(**{"max_lr": 0.1, "total_steps": 20, **kwargs})
    assert sched.group_shape == (3,)
    assert sched(3).shape == (3,)
    assert sched.momentum(3).shape == (3,)
    assert sched(jnp.zeros((4, 2), jnp.int32)).shape == (4, 2, 3)
    assert sched.momentum(jnp.zeros((4, 2), jnp.int32)).shape == (4, 2, 3)
    for group in range(3):
        single = {k: v[group] if isinstance(v, list) else v for k, v in kwargs.items()}
        one = oc.onecycle(**{"max_lr": 0.1, "total_steps": 20, **single})
        np.testing.assert_array_equal(
            sched(jnp.arange(20))[:, group], one(jnp.arange(20))
        )
        np.testing.assert_array_equal(
            sched.momentum(jnp.arange(20))[:, group], one.momentum(jnp.arange(20))
        )


def test_default_dtype_follows_x64():
    sched = oc.onecycle(0.1, 10)
    assert sched(1).dtype == jnp.float32
    assert sched.momentum(1).dtype == jnp.float32
    with jax.enable_x64(True):
        assert sched(1).dtype == jnp.float64
        assert sched.momentum(1).dtype == jnp.float64


def test_pure_functions_equal_the_schedule():
    kwargs = dict(
        total_steps=25, pct_start=0.2, anneal_strategy="linear", base_momentum=0.7
    )
    counts = jnp.arange(30)
    sched = oc.onecycle(0.4, **kwargs)
    np.testing.assert_array_equal(oc.onecycle_lr(counts, 0.4, **kwargs), sched(counts))
    np.testing.assert_array_equal(
        oc.onecycle_momentum(counts, **kwargs), sched.momentum(counts)
    )


def test_cycle_momentum_false_holds_max_momentum():
    sched = oc.onecycle(0.1, 20, cycle_momentum=False, max_momentum=0.9)
    np.testing.assert_allclose(sched.momentum(jnp.arange(-2, 25)), 0.9, rtol=1e-7)


def test_phase_end_a_hair_below_a_step():
    """An end just below a whole step keeps that step out of the phase.

    pct_start * total_steps = 2 - 2e-16 rounds to 2 in float32; PyTorch puts
    step 1 after the warm-up's end (0.9999999999999998), at the decay's end.
    """
    kwargs = dict(max_lr=1.0, total_steps=2, pct_start=0.9999999999999999)
    kwargs.update(div_factor=1.0, final_div_factor=2.0)
    sched = oc.onecycle(**kwargs)
    steps = np.arange(2)
    torch_lr, torch_momentum = torch_curve(steps, kwargs)
    np.testing.assert_array_equal(torch_lr, [1.0, 0.5])
    np.testing.assert_allclose(sched(jnp.asarray(steps)), torch_lr, rtol=1e-6)
    np.testing.assert_allclose(
        sched.momentum(jnp.asarray(steps)), torch_momentum, rtol=1e-6
    )


@pytest.mark.parametrize(
    "count", [np.int64(2**32 + 5), np.int64(2**40), 2**40, 2**70, np.uint64(2**63)]
)
def test_counts_beyond_int32_hold_the_final_values_without_wrapping(count):
    # Narrowing to int32 at the jit boundary would wrap 2**32 + 5 to 5.
    sched = oc.onecycle(0.1, total_steps=10)
    np.testing.assert_array_equal(sched(count), sched.min_lr)
    np.testing.assert_array_equal(sched.momentum(count), np.float32(0.95))


def test_bfloat16_hyperparameters_are_accepted():
    sched = oc.onecycle(jnp.bfloat16(0.1), total_steps=10)
    np.testing.assert_allclose(sched(3), float(jnp.bfloat16(0.1)) * 0.9504846, 1e-6)
    groups = oc.onecycle(np.array([0.1, 0.2], jnp.bfloat16), total_steps=10)
    assert groups(3).shape == (2,)


def test_switching_x64_on_after_a_jitted_call_still_evaluates():
    sched = oc.onecycle(0.1, total_steps=10)
    jax.jit(sched)(3)
    with jax.enable_x64(True):
        value = sched(jnp.asarray(2**40, jnp.int64))
    np.testing.assert_allclose(value, 4e-7, rtol=1e-12)


def test_phase_ends_of_a_long_cycle_keep_float64_precision():
    # float32 would round 644245093.1 to 644245120, 27 steps late.
    ends = oc.onecycle(0.1, total_steps=2**31 - 1, three_phase=True).phase_ends
    assert float(ends[0]) == 0.3 * (2**31 - 1) - 1
    assert float(ends[1]) == 2 * 0.3 * (2**31 - 1) - 2
    assert float(ends[2]) == 2**31 - 2
