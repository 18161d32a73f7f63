"""oc.grid: the configurations a sweep holds, and how they come back out."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import onecycle_jax as oc

MAX_LRS = [0.01, 0.1, 1.0]
PCT_STARTS = [0.1, 0.3, 0.5, 0.7]


def _same_schedule(a, b, counts):
    np.testing.assert_array_equal(np.asarray(a(counts)), np.asarray(b(counts)))
    np.testing.assert_array_equal(
        np.asarray(a.momentum(counts)), np.asarray(b.momentum(counts))
    )


def test_length_is_the_product_of_the_lists_in_row_major_order():
    sweep = oc.grid(max_lr=MAX_LRS, pct_start=PCT_STARTS, total_steps=50)

    assert len(sweep) == len(MAX_LRS) * len(PCT_STARTS)
    pairs = [(d["max_lr"], d["pct_start"]) for d in sweep.to_dicts()]
    assert pairs == list(itertools.product(MAX_LRS, PCT_STARTS))
    for name in ("max_lr", "total_steps", "pct_start", "div_factor", "last_epoch"):
        assert np.shape(getattr(sweep, name)) == (len(sweep),)


def test_each_configuration_is_the_schedule_onecycle_builds():
    sweep = oc.grid(
        max_lr=MAX_LRS,
        pct_start=PCT_STARTS,
        total_steps=[20, 37],
        div_factor=10.0,
        base_momentum=[0.8, 0.9],
        anneal_strategy="linear",
    )
    counts = jnp.arange(45)

    for index, values in enumerate(sweep.to_dicts()):
        expected = oc.onecycle(**values)
        assert repr(sweep[index]) == repr(expected)
        _same_schedule(sweep[index], expected, counts)
        assert values["div_factor"] == 10.0
        assert values["anneal_strategy"] == "linear"


def test_shorter_cycles_hold_their_final_values_past_their_end():
    sweep = oc.grid(max_lr=0.1, total_steps=[10, 30])
    counts = jnp.arange(40)

    lr = np.asarray(sweep(counts))

    assert lr.shape == (40, 2)
    short = oc.onecycle(0.1, total_steps=10)
    np.testing.assert_array_equal(lr[10:, 0], float(short.min_lr))
    assert np.all(lr[10:29, 1] > float(short.min_lr))
    np.testing.assert_array_equal(lr[29:, 1], float(short.min_lr))


def test_calling_a_grid_evaluates_every_configuration_at_once():
    sweep = oc.grid(max_lr=MAX_LRS, pct_start=[0.2, 0.6], total_steps=[25, 40])
    counts = jnp.arange(45).reshape(5, 9)

    lr = np.asarray(sweep(counts))
    momentum = np.asarray(sweep.momentum(counts))

    assert lr.shape == momentum.shape == (5, 9, len(sweep))
    for index in range(len(sweep)):
        np.testing.assert_allclose(lr[..., index], sweep[index](counts), rtol=1e-6)
        np.testing.assert_allclose(
            momentum[..., index], sweep[index].momentum(counts), rtol=1e-6
        )
    assert np.asarray(sweep(7)).shape == (len(sweep),)


def test_vmap_hands_each_function_one_configuration():
    sweep = oc.grid(max_lr=MAX_LRS, pct_start=PCT_STARTS, total_steps=[25, 40])
    counts = jnp.arange(45)

    lr = jax.jit(jax.vmap(lambda cfg: cfg(counts)))(sweep)

    assert lr.shape == (len(sweep), 45)
    for index in range(len(sweep)):
        np.testing.assert_allclose(
            lr[index], sweep[index](counts), rtol=2e-6, atol=1e-9
        )


@settings(max_examples=15, deadline=None)
@given(
    max_lr=st.lists(st.floats(1e-4, 10.0), min_size=1, max_size=3),
    total_steps=st.lists(st.integers(1, 500), min_size=1, max_size=3),
    pct_start=st.one_of(
        st.floats(0.0, 1.0), st.lists(st.floats(0.0, 1.0), max_size=3, min_size=1)
    ),
    final_div_factor=st.floats(1.0, 1e5),
)
def test_any_grid_is_its_configurations(
    max_lr, total_steps, pct_start, final_div_factor
):
    sweep = oc.grid(
        max_lr=max_lr,
        total_steps=total_steps,
        pct_start=pct_start,
        final_div_factor=final_div_factor,
    )
    listed_pct = pct_start if isinstance(pct_start, list) else [pct_start]
    counts = jnp.arange(0, 520, 7)

    assert len(sweep) == len(max_lr) * len(total_steps) * len(listed_pct)
    combos = itertools.product(max_lr, total_steps, listed_pct)
    for config, (lr, steps, pct) in zip(sweep, combos, strict=True):
        expected = oc.onecycle(
            lr, total_steps=steps, pct_start=pct, final_div_factor=final_div_factor
        )
        _same_schedule(config, expected, counts)


def test_indexing_slicing_and_iteration():
    sweep = oc.grid(max_lr=MAX_LRS, pct_start=PCT_STARTS, total_steps=50)

    assert float(sweep[-1].max_lr) == MAX_LRS[-1]
    assert float(sweep[-1].pct_start) == PCT_STARTS[-1]
    assert len(sweep[2:5]) == 3
    assert sweep[2:5].to_dicts() == sweep.to_dicts()[2:5]
    assert len(list(sweep)) == len(sweep)
    with pytest.raises(IndexError, match="index 12 is out of range for a grid of 12"):
        sweep[12]


def test_iteration_ends_on_device_arrays_too():
    # JAX clamps an out-of-range index instead of raising; the grid must not.
    sweep = jax.device_put(oc.grid(max_lr=MAX_LRS, total_steps=50))

    configs = list(sweep)

    assert [float(c.max_lr) for c in configs] == pytest.approx(MAX_LRS)
    with pytest.raises(IndexError, match="index -4"):
        sweep[-4]


def test_a_single_schedule_is_not_a_sweep():
    sched = oc.onecycle(0.1, total_steps=10)
    per_group = oc.onecycle([0.1, 0.2], total_steps=10)

    assert bool(sched) and bool(per_group)
    with pytest.raises(TypeError, match=r"only a sweep built by onecycle_jax\.grid"):
        len(sched)
    with pytest.raises(TypeError, match=r"total_steps \(\)"):
        per_group[0]
    with pytest.raises(TypeError, match="only a sweep"):
        sched.to_dicts()


BAD = [
    (
        {"max_lr": [0.1, -1.0]},
        ValueError,
        "max_lr must be positive and finite, got -1.0",
    ),
    ({"max_lr": [0.1, float("nan")]}, ValueError, "max_lr must be positive"),
    ({"max_lr": [0.1, "0.2"]}, TypeError, "max_lr must be a number, got '0.2'"),
    ({"max_lr": [[0.1, 0.2]]}, TypeError, r"max_lr must be a number, got \[0.1, 0.2\]"),
    ({"max_lr": np.ones((2, 2))}, ValueError, r"max_lr: .* shape \(2, 2\)"),
    ({"max_lr": []}, ValueError, r"max_lr must list at least one value, got \[\]"),
    ({"total_steps": [100, 2.5]}, TypeError, "total_steps must be a positive int"),
    ({"total_steps": [100, 0]}, ValueError, "total_steps must be .*, got 0"),
    ({"total_steps": [True]}, TypeError, "total_steps must be"),
    ({"pct_start": [0.3, 1.5]}, ValueError, r"pct_start must be in \[0, 1\], got 1.5"),
    (
        {"pct_start": [0.3, 0.6], "three_phase": True},
        ValueError,
        "pct_start must be at most 0.5 when three_phase=True",
    ),
    ({"base_momentum": [0.8, -0.1]}, ValueError, "base_momentum must be in"),
    ({"last_epoch": [-2]}, ValueError, "last_epoch must be an integer >= -1"),
    ({"anneal_strategy": "cosine"}, ValueError, "'cos' or 'linear', got 'cosine'"),
    ({"three_phase": [True, False]}, TypeError, "three_phase must be True or False"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_values_name_the_argument_and_the_value(kwargs, error, message):
    arguments = {"max_lr": 0.1, "total_steps": 100, **kwargs}

    with pytest.raises(error, match=message):
        oc.grid(**arguments)


def test_traced_values_can_be_swept_inside_jit():
    @jax.jit
    def peaks(max_lrs):
        return oc.grid(max_lr=max_lrs, pct_start=[0.2, 0.4], total_steps=10).max_lr

    result = peaks(jnp.array([0.5, 2.0]))

    np.testing.assert_allclose(result, [0.5, 0.5, 2.0, 2.0])


def test_a_grid_is_not_indexed_by_a_bool():
    sweep = oc.grid(max_lr=[0.1, 0.2], total_steps=10)
    with pytest.raises(TypeError, match="indexed by an integer or a slice, got True"):
        sweep[True]


def test_a_combination_float32_cannot_hold_is_a_value_error():
    # Each value passes on its own; the pair overflows initial_lr.
    with pytest.raises(ValueError, match="initial_lr = max_lr / div_factor must lie"):
        oc.grid(max_lr=[0.1, 1e38], div_factor=[1.0, 0.1], total_steps=10)
