"""Bad input fails loudly, naming the argument, the value and what is allowed."""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import onecycle_jax as oc

TOTAL = re.escape("a positive integer no larger than 2**31 - 1")
POSITIVE = "positive and finite"


def _build(**kwargs):
    return oc.onecycle(**{"max_lr": 0.1, "total_steps": 10, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(total_steps=None), ValueError, "total_steps is missing"),
        (dict(total_steps=0), ValueError, f"total_steps must be {TOTAL}.*got 0"),
        (dict(total_steps=-3), ValueError, f"total_steps must be {TOTAL}.*got -3"),
        (
            dict(total_steps=2**31),
            ValueError,
            f"total_steps must be {TOTAL}.*2147483648",
        ),
        (dict(total_steps=True), TypeError, "total_steps must be .* got True"),
        (dict(total_steps=10.0), TypeError, "total_steps must be .* got 10.0"),
        (
            dict(total_steps=np.float32(10)),
            TypeError,
            "total_steps must be .* got np.float32\\(10.0\\)",
        ),
        (
            dict(total_steps=jnp.float32(10)),
            TypeError,
            "total_steps must be .* got 10.0",
        ),
        (dict(total_steps="10"), TypeError, "total_steps must be .* got '10'"),
        (
            dict(total_steps=np.asarray([10])),
            ValueError,
            "total_steps must be a scalar",
        ),
        (dict(total_steps=None, epochs=3), ValueError, "steps_per_epoch is missing"),
        (dict(total_steps=None, steps_per_epoch=3), ValueError, "epochs is missing"),
        (
            dict(total_steps=None, epochs=0, steps_per_epoch=3),
            ValueError,
            "epochs must be a positive integer, got 0",
        ),
        (
            dict(total_steps=None, epochs=-2, steps_per_epoch=3),
            ValueError,
            "epochs must be .* got -2",
        ),
        (
            dict(total_steps=None, epochs=2.0, steps_per_epoch=3),
            TypeError,
            "epochs must be .* got 2.0",
        ),
        (
            dict(total_steps=None, epochs=False, steps_per_epoch=3),
            TypeError,
            "epochs must be .* got False",
        ),
        (
            dict(total_steps=None, epochs=2, steps_per_epoch=0),
            ValueError,
            "steps_per_epoch must be a positive integer, got 0",
        ),
        (
            dict(total_steps=None, epochs=2, steps_per_epoch=-1),
            ValueError,
            "steps_per_epoch must be .* got -1",
        ),
        (
            dict(total_steps=None, epochs=2, steps_per_epoch=3.0),
            TypeError,
            "steps_per_epoch must be .* got 3.0",
        ),
        (
            dict(total_steps=None, epochs=2, steps_per_epoch=True),
            TypeError,
            "steps_per_epoch must be .* got True",
        ),
        (
            dict(total_steps=None, epochs=2**16, steps_per_epoch=2**16),
            ValueError,
            "epochs \\* steps_per_epoch must be at most 2\\*\\*31 - 1",
        ),
        (
            dict(epochs=2, steps_per_epoch=4),
            ValueError,
            "total_steps=10 disagrees with epochs \\* steps_per_epoch = 8",
        ),
        (dict(pct_start=1.5), ValueError, "pct_start must be in \\[0, 1\\], got 1.5"),
        (dict(pct_start=-0.1), ValueError, "pct_start must be in \\[0, 1\\], got -0.1"),
        (
            dict(pct_start=math.nan),
            ValueError,
            "pct_start must be in \\[0, 1\\], got nan",
        ),
        (dict(pct_start=True), TypeError, "pct_start must be a number, got True"),
        (dict(pct_start=[0.2, 0.3]), TypeError, "pct_start must be a number"),
        (
            dict(three_phase=True, pct_start=0.6),
            ValueError,
            "pct_start must be at most 0.5 when three_phase=True.*got 0.6",
        ),
        (
            dict(anneal_strategy="cosine"),
            ValueError,
            "anneal_strategy must be 'cos' or 'linear', got 'cosine'",
        ),
        (
            dict(anneal_strategy=None),
            ValueError,
            "anneal_strategy must be 'cos' or 'linear', got None",
        ),
        (dict(max_lr=0), ValueError, f"max_lr must be {POSITIVE}, got 0"),
        (dict(max_lr=-1.0), ValueError, f"max_lr must be {POSITIVE}, got -1.0"),
        (dict(max_lr=math.inf), ValueError, f"max_lr must be {POSITIVE}, got inf"),
        (dict(max_lr=math.nan), ValueError, f"max_lr must be {POSITIVE}, got nan"),
        (
            dict(max_lr=[0.1, -0.2]),
            ValueError,
            f"max_lr must be {POSITIVE}, got \\[0.1, -0.2\\]",
        ),
        (dict(max_lr=[]), ValueError, "max_lr must have at least one value"),
        (
            dict(max_lr="0.1"),
            TypeError,
            "max_lr must be a number, or one per parameter group",
        ),
        (dict(max_lr=True), TypeError, "max_lr must be .* got True"),
        (
            dict(max_lr=np.ones((2, 2))),
            ValueError,
            "max_lr must be a scalar or 1-D, got shape \\(2, 2\\)",
        ),
        (dict(div_factor=0), ValueError, f"div_factor must be {POSITIVE}, got 0"),
        (
            dict(div_factor=-25.0),
            ValueError,
            f"div_factor must be {POSITIVE}, got -25.0",
        ),
        (
            dict(div_factor=math.inf),
            ValueError,
            f"div_factor must be {POSITIVE}, got inf",
        ),
        (dict(div_factor=None), TypeError, "div_factor must be a number, got None"),
        (
            dict(final_div_factor=0.0),
            ValueError,
            f"final_div_factor must be {POSITIVE}, got 0.0",
        ),
        (
            dict(final_div_factor=-2.0),
            ValueError,
            f"final_div_factor must be {POSITIVE}, got -2.0",
        ),
        (
            dict(final_div_factor=math.nan),
            ValueError,
            f"final_div_factor must be {POSITIVE}, got nan",
        ),
        (
            dict(base_momentum=1.5),
            ValueError,
            "base_momentum must be in \\[0, 1\\], got 1.5",
        ),
        (
            dict(max_momentum=-0.1),
            ValueError,
            "max_momentum must be in \\[0, 1\\], got -0.1",
        ),
        (
            dict(max_lr=[0.1, 0.2], base_momentum=[0.8] * 3),
            ValueError,
            "same length.*max_lr has 2, base_momentum has 3",
        ),
        (
            dict(max_lr=[0.1, 0.2], max_momentum=[0.9] * 3),
            ValueError,
            "same length.*max_lr has 2, max_momentum has 3",
        ),
        (
            dict(base_momentum=[0.8] * 2, max_momentum=[0.9] * 3),
            ValueError,
            "base_momentum has 2, max_momentum has 3",
        ),
        (
            dict(last_epoch=-2),
            ValueError,
            "last_epoch must be an integer >= -1 .*got -2",
        ),
        (
            dict(last_epoch=1.0),
            TypeError,
            "last_epoch must be an integer >= -1 .*got 1.0",
        ),
        (
            dict(three_phase="yes"),
            TypeError,
            "three_phase must be True or False, got 'yes'",
        ),
        (
            dict(cycle_momentum=1),
            TypeError,
            "cycle_momentum must be True or False, got 1",
        ),
        (dict(verbose=None), TypeError, "verbose must be True or False, got None"),
    ],
)
def test_bad_input_by_message(kwargs, error, match):
    with pytest.raises(error, match=match):
        _build(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(total_steps=10),
        dict(total_steps=np.int64(10)),
        dict(total_steps=np.uint8(10)),
        dict(total_steps=jnp.int32(10)),
        dict(total_steps=None, epochs=np.int16(2), steps_per_epoch=jnp.int32(5)),
        dict(total_steps=10, epochs=2, steps_per_epoch=5),
        dict(pct_start=0),
        dict(pct_start=1),
        dict(pct_start=np.float32(0.25), three_phase=True),
        dict(max_lr=(0.1, np.float32(0.2), jnp.float32(0.3))),
        dict(max_lr=np.asarray([0.1, 0.2]), base_momentum=0.8),
    ],
)
def test_good_input_is_accepted(kwargs):
    sched = _build(**kwargs)
    assert int(sched.total_steps) == 10
    assert np.all(np.isfinite(sched(jnp.arange(12))))


def test_integer_pct_start_equals_the_float():
    for pct in (0, 1):
        np.testing.assert_array_equal(
            _build(pct_start=pct)(jnp.arange(10)),
            _build(pct_start=float(pct))(jnp.arange(10)),
        )


def test_count_must_be_an_integer():
    with pytest.raises(
        TypeError, match=r"count must be an integer .* got dtype float32"
    ):
        _build()(jnp.float32(3.0))
    with pytest.raises(TypeError, match="count must be an integer"):
        _build().momentum(2.5)


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        (
            "total_steps",
            jnp.float32(10),
            "total_steps must be .* got a traced float32 value",
        ),
        (
            "last_epoch",
            jnp.float32(2),
            "last_epoch must be .* got a traced float32 value",
        ),
        (
            "max_lr",
            jnp.asarray(True),
            "max_lr must be a real number, got a traced bool value",
        ),
    ],
)
def test_traced_dtypes_are_checked_while_tracing(name, value, match):
    with pytest.raises(TypeError, match=match):
        jax.jit(lambda v: _build(**{name: v})(3))(value)


def _checked(three_phase=False):
    def lr(
        max_lr,
        pct_start,
        total_steps,
        last_epoch,
        div_factor,
        final_div_factor,
        momentum,
    ):
        sched = oc.onecycle(
            max_lr,
            total_steps,
            pct_start=pct_start,
            last_epoch=last_epoch,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            base_momentum=momentum,
            three_phase=three_phase,
        )
        oc.check(sched)
        return sched(jnp.arange(5))

    return jax.jit(checkify.checkify(lr))


GOOD = dict(
    max_lr=0.1,
    pct_start=0.3,
    total_steps=10,
    last_epoch=-1,
    div_factor=25.0,
    final_div_factor=1e4,
    momentum=0.85,
)


def _traced(**changes):
    values = {**GOOD, **changes}
    ints = ("total_steps", "last_epoch")
    return [
        jnp.asarray(v, jnp.int32 if k in ints else jnp.float32)
        for k, v in values.items()
    ]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (dict(max_lr=-0.1), f"max_lr must be {POSITIVE}, got -0.1"),
        (dict(max_lr=math.inf), f"max_lr must be {POSITIVE}, got inf"),
        (dict(div_factor=0.0), f"div_factor must be {POSITIVE}, got 0.0"),
        (
            dict(final_div_factor=math.nan),
            f"final_div_factor must be {POSITIVE}, got nan",
        ),
        (dict(pct_start=1.5), "pct_start must be in \\[0, 1\\], got 1.5"),
        (dict(pct_start=math.nan), "pct_start must be in \\[0, 1\\], got nan"),
        (dict(total_steps=0), f"total_steps must be {TOTAL}.*got 0"),
        (dict(last_epoch=-2), "last_epoch must be an integer >= -1.*got -2"),
        (dict(momentum=1.2), "base_momentum must be in \\[0, 1\\], got 1.2"),
    ],
)
def test_checkify_reports_traced_values(changes, match):
    err, _ = _checked()(*_traced())
    assert err.get() is None
    err, _ = _checked()(*_traced(**changes))
    assert re.search(match, err.get())
    with pytest.raises(checkify.JaxRuntimeError, match=match):
        err.throw()


def test_checkify_three_phase_overlap():
    err, _ = _checked(three_phase=True)(*_traced(pct_start=0.5))
    assert err.get() is None
    err, _ = _checked(three_phase=True)(*_traced(pct_start=0.6))
    assert re.search("pct_start must be at most 0.5 when three_phase=True", err.get())


def test_checkify_in_a_vmapped_sweep():
    def lr(max_lr):
        sched = oc.onecycle(max_lr, 10)
        oc.check(sched)
        return sched(3)

    sweep = jax.jit(checkify.checkify(jax.vmap(lr)))
    err, values = sweep(jnp.asarray([0.1, 0.2]))
    assert err.get() is None
    assert values.shape == (2,)
    err, _ = sweep(jnp.asarray([0.1, -1.0, 0.2]))
    assert re.search(f"max_lr must be {POSITIVE}, got -1.0", err.get())


@pytest.mark.parametrize("kwargs", [dict(epochs=3), dict(steps_per_epoch=7)])
def test_total_steps_takes_precedence_over_a_lone_epoch_argument(kwargs):
    # PyTorch ignores epochs / steps_per_epoch once total_steps is given; so do
    # we, after checking that what was given is an integer.
    sched = _build(**kwargs)
    assert int(sched.total_steps) == 10
    with pytest.raises(
        TypeError, match=re.escape("must be a positive integer, got 3.0")
    ):
        _build(**{name: 3.0 for name in kwargs})


@pytest.mark.parametrize("count", ["1", None, 1.5, True, [1.0], np.array([True])])
@pytest.mark.parametrize("cycle_momentum", [True, False])
def test_a_count_that_is_no_integer_is_a_type_error(count, cycle_momentum):
    sched = _build(cycle_momentum=cycle_momentum)
    with pytest.raises(TypeError, match="count must be an integer"):
        sched.lr(count)
    with pytest.raises(TypeError, match="count must be an integer"):
        sched.momentum(count)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(max_lr=1e39), "max_lr must lie between"),
        (dict(max_lr=1e308), "max_lr must lie between"),
        (dict(div_factor=1e-300), "initial_lr = max_lr / div_factor must lie"),
        (dict(final_div_factor=1e-300), "min_lr = max_lr / div_factor / final_div"),
        (dict(max_lr=1e-30, final_div_factor=1e10), "min_lr = .* got 4e-42"),
        (dict(max_lr=[0.1, 1e39]), "max_lr must lie between .* float32"),
    ],
)
def test_a_learning_rate_float32_cannot_hold_is_a_value_error(kwargs, match):
    # Each passes the float64 checks but would be inf, NaN or 0 in float32.
    with pytest.raises(ValueError, match=match):
        _build(**kwargs)


def test_complex_traced_hyperparameters_are_a_type_error():
    with pytest.raises(TypeError, match="max_lr must be a real number, got a traced"):
        jax.jit(lambda m: oc.onecycle(m, 10)(3))(jnp.complex64(1))


def _checked_build(build):
    def run(*args):
        sched = build(*args)
        oc.check(sched, adam=True)
        return sched(3)

    return jax.jit(checkify.checkify(run))


@pytest.mark.parametrize(("epochs", "steps"), [(100_000, 100_000), (-2, -5), (0, 7)])
def test_check_reports_an_impossible_traced_epoch_product(epochs, steps):
    # int32 would wrap 1e10 to 1410065408, and -2 * -5 is 10: both silent.
    run = _checked_build(lambda e, s: oc.onecycle(0.1, epochs=e, steps_per_epoch=s))
    error, _ = run(jnp.int32(epochs), jnp.int32(steps))
    assert "total_steps must be a positive integer" in error.get()
    error, _ = run(jnp.int32(3), jnp.int32(7))
    assert error.get() is None


def test_check_reports_traced_momenta_adam_cannot_take():
    run = _checked_build(lambda m: oc.onecycle(0.1, 10, max_momentum=m))
    error, _ = run(jnp.float32(1.0))
    assert "max_momentum must be below 1 for Adam's b1, got 1.0" in error.get()


@pytest.mark.parametrize("div_factor", [1e-38, 1e38])
def test_check_reports_traced_learning_rates_float32_cannot_hold(div_factor):
    run = _checked_build(lambda d: oc.onecycle(0.1, 10, div_factor=d))
    error, _ = run(jnp.float32(div_factor))
    assert "initial_lr must be a normal float32 number" in error.get()
