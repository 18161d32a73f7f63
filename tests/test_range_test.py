"""Tests of the learning-rate range test (``oc.lr_range_test``)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import onecycle_jax as oc
from onecycle_jax import _demo, digits

METHODS = ("steepest", "minimum", "valley")

# A quadratic with curvatures up to CURVATURE[0]: plain SGD diverges above
# 2 / CURVATURE[0]. Noisy targets play the part of minibatch noise.
CURVATURE = jnp.array([4.0, 1.0, 0.25, 0.05])
EDGE = 2 / 4.0


def quadratic(w, target):
    return 0.5 * jnp.sum(CURVATURE * (w - target) ** 2)


def targets(key, steps=100, noise=0.1):
    return noise * jax.random.normal(key, (steps, CURVATURE.shape[0]))


def sweep(params, batches, **kwargs):
    kwargs = {"start_lr": 1e-4, "end_lr": 10.0, "num_steps": 100, **kwargs}
    return oc.lr_range_test(quadratic, params, batches, **kwargs)


# One shape for most sweeps below, so they share one compiled loop.
BATCHES = targets(jax.random.key(1))


def first_above_edge(lrs):
    return int(np.argmax(np.asarray(lrs) > EDGE))


def test_quadratic_stops_a_few_steps_after_the_edge_and_suggests_below_it():
    keys = jax.random.split(jax.random.key(0), 8)
    batches = jax.vmap(targets)(keys)
    smoothed = jax.vmap(lambda b: sweep(jnp.ones(4), b))(batches)
    raw = jax.vmap(lambda b: sweep(jnp.ones(4), b, smooth=1.0))(batches)
    edge = first_above_edge(smoothed.lrs[0])

    lag = np.asarray(smoothed.stopped_at) - edge
    raw_lag = np.asarray(raw.stopped_at) - edge
    assert np.all(lag >= 1) and np.all(lag <= 8), lag
    # Unsmoothed, minibatch noise alone can cross the threshold, even before
    # the edge; smoothing only ever stops later.
    assert np.all(raw_lag <= lag), (raw_lag, lag)
    for method in METHODS:
        suggested = np.asarray(smoothed.suggestion(method))
        assert suggested.shape == (8,)
        assert np.all(suggested < EDGE), (method, suggested)


def test_vmap_over_keys_and_starting_points_matches_one_call_each():
    keys = jax.random.split(jax.random.key(2), 3)
    starts = jnp.array([1.0, -2.0, 3.0])[:, None] * jnp.ones(4)
    vmapped = jax.vmap(lambda k, w: sweep(w, BATCHES, key=k))(keys, starts)
    for i in range(3):
        alone = sweep(starts[i], BATCHES, key=keys[i])
        np.testing.assert_allclose(vmapped.losses[i], alone.losses, rtol=1e-5)
        np.testing.assert_allclose(
            vmapped.smoothed_losses[i], alone.smoothed_losses, rtol=1e-5
        )
        assert int(vmapped.stopped_at[i]) == int(alone.stopped_at)
    assert len({float(x) for x in vmapped.losses[:, 0]}) == 3


def test_vmap_over_numeric_arguments_matches_one_call_each():
    end_lrs, smooths = jnp.array([1.0, 10.0]), jnp.array([0.05, 0.2])
    vmapped = jax.vmap(lambda e, s: sweep(jnp.ones(4), BATCHES, end_lr=e, smooth=s))(
        end_lrs, smooths
    )
    for i in range(2):
        alone = sweep(
            jnp.ones(4), BATCHES, end_lr=float(end_lrs[i]), smooth=0.05 + 0.15 * i
        )
        np.testing.assert_allclose(vmapped.lrs[i], alone.lrs, rtol=1e-5)
        np.testing.assert_allclose(
            vmapped.smoothed_losses[i], alone.smoothed_losses, rtol=1e-4
        )
        assert int(vmapped.stopped_at[i]) == int(alone.stopped_at)


def test_key_shuffles_every_row_before_taking_num_steps():
    batches = jnp.concatenate([BATCHES, 10 + BATCHES])  # 200 rows, 100 taken
    result = sweep(jnp.ones(4), batches, key=jax.random.key(0))
    first = jax.random.permutation(jax.random.key(0), 200)[0]
    expected = float(quadratic(jnp.ones(4), batches[first]))
    np.testing.assert_allclose(float(result.losses[0]), expected, rtol=1e-6)
    assert float(result.losses[0]) != float(sweep(jnp.ones(4), batches).losses[0])


def test_divergence_masks_later_entries_without_nans():
    def explodes(w, b):  # overflows to inf within a few steps of a big lr
        return jnp.sum(jnp.exp(w**2) + b)

    result = oc.lr_range_test(
        explodes, jnp.full(3, 0.5), jnp.zeros((80, 3)), start_lr=1e-3, num_steps=80
    )
    stop = int(result.stopped_at)
    assert 0 < stop < 80
    assert bool(result.diverged)
    assert np.all(np.isfinite(result.losses)) and np.all(
        np.isfinite(result.smoothed_losses)
    )
    np.testing.assert_array_equal(result.losses[stop:], result.losses[stop - 1])
    np.testing.assert_array_equal(
        result.smoothed_losses[stop:], result.smoothed_losses[stop - 1]
    )
    np.testing.assert_array_equal(result.valid, np.arange(80) < stop)


def test_no_divergence_runs_every_step():
    result = sweep(jnp.ones(4), BATCHES, end_lr=0.3)
    assert int(result.stopped_at) == 100
    assert not bool(result.diverged)


def test_callers_params_are_not_modified():
    params = {"w": np.ones(4, np.float32)}
    before = params["w"].copy()
    result = sweep(params["w"], BATCHES)
    assert int(result.stopped_at) > 10
    np.testing.assert_array_equal(params["w"], before)


def test_iterator_gives_the_same_result_as_the_stacked_array():
    from_array = sweep(jnp.ones(4), BATCHES)
    from_iterator = sweep(jnp.ones(4), iter([*BATCHES, BATCHES[0]]))
    np.testing.assert_array_equal(from_array.losses, from_iterator.losses)


def test_pytree_batches_and_optimizer_factories():
    batches = {"target": targets(jax.random.key(6), steps=50), "scale": jnp.ones(50)}
    result = oc.lr_range_test(
        lambda w, b: b["scale"] * quadratic(w, b["target"]),
        jnp.ones(4),
        batches,
        optimizer=functools.partial(optax.sgd, momentum=0.9),
        num_steps=50,
    )
    plain = oc.lr_range_test(
        lambda w, b: quadratic(w, b["target"]), jnp.ones(4), batches, num_steps=50
    )
    assert result.losses.shape == (50,)
    assert np.all(np.isfinite(result.losses))
    assert not np.allclose(result.losses, plain.losses)


def test_grids():
    exp = sweep(jnp.ones(4), BATCHES, start_lr=1e-3, end_lr=10.0)
    ratios = np.asarray(exp.lrs[1:]) / np.asarray(exp.lrs[:-1])
    np.testing.assert_allclose(ratios, 10 ** (4 / 99), rtol=1e-5)
    assert float(exp.lrs[0]) == np.float32(1e-3) and float(exp.lrs[-1]) == 10.0
    linear = sweep(
        jnp.ones(4),
        BATCHES,
        start_lr=0.01,
        end_lr=1.0,
        step_mode="linear",
    )
    np.testing.assert_allclose(np.diff(linear.lrs), 0.01, rtol=1e-4)
    assert linear.step_mode == "linear"


def test_smoothing_is_a_bias_corrected_moving_average():
    result = sweep(jnp.ones(4), BATCHES, end_lr=0.1, smooth=0.2)
    losses = np.asarray(result.losses, np.float64)
    average, expected = 0.0, []
    for i, loss in enumerate(losses):
        average = 0.8 * average + 0.2 * loss
        expected.append(average / (1 - 0.8 ** (i + 1)))
    np.testing.assert_allclose(result.smoothed_losses, expected, rtol=1e-5)
    unsmoothed = sweep(jnp.ones(4), BATCHES, end_lr=0.1, smooth=1.0)
    np.testing.assert_allclose(unsmoothed.smoothed_losses, unsmoothed.losses, rtol=1e-6)


def made_up(smoothed, stopped_at):
    n = len(smoothed)
    lrs = jnp.asarray(np.geomspace(1e-3, 1e3, n), jnp.float32)
    smoothed = jnp.asarray(smoothed, jnp.float32)
    return oc.RangeTestResult(lrs, smoothed, smoothed, jnp.int32(stopped_at), "exp")


def test_suggestions_follow_their_definitions_on_the_valid_prefix():
    #        0  1  2    3  4    5    6    7    8    9  10 11 12 13   14   15
    curve = [5, 5, 4.9, 4, 2.5, 2.4, 2.0, 1.9, 1.8, 8, 4, 2, 9, 9, 0.1, 0.0]
    result = made_up(curve, stopped_at=14)  # the dive at 14 lies past the stop
    lrs = np.asarray(result.lrs)
    # steepest: central differences (equal log-lr spacing); step 3 has
    # (2.5 - 4.9) / 2, steeper than step 4's (2.4 - 4) / 2. Step 10's
    # (2 - 8) / 2 is steeper still but comes after the lowest loss (step 8).
    assert float(result.suggestion("steepest")) == lrs[3]
    assert float(result.suggestion("minimum")) == pytest.approx(lrs[8] / 10)
    # valley: the longest falling stretch runs from step 1 to step 8;
    # two thirds of its 7 steps, rounded, is 5 steps down it.
    assert float(result.suggestion("valley")) == lrs[6]


def test_suggestion_on_a_sweep_that_diverged_at_once_is_an_error():
    with pytest.raises(ValueError, match="third step"):
        made_up([1.0, 9.0, 9.0, 9.0], stopped_at=2).suggestion()
    # Two steps that did not diverge are too few, and say so.
    with pytest.raises(ValueError, match=r"has 2 steps.*num_steps >= 3"):
        made_up([2.0, 1.0], stopped_at=2).suggestion()


def test_tiny_smooth_gives_the_running_mean():
    # 1 - 1e-30 rounds to 1 in float32; the bias correction must not.
    result = sweep(jnp.ones(4), BATCHES, end_lr=0.1, smooth=1e-30)
    assert int(result.stopped_at) == 100
    losses = np.asarray(result.losses, np.float64)
    running_mean = np.cumsum(losses) / np.arange(1, 101)
    np.testing.assert_allclose(result.smoothed_losses, running_mean, rtol=1e-5)


def test_jit_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    jitted = jax.jit(lambda p: sweep(p, BATCHES))(jnp.ones(4))
    eager = sweep(jnp.ones(4), BATCHES)
    np.testing.assert_allclose(jitted.losses, eager.losses, rtol=1e-6)
    ax = eager.plot()
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 5
    batched = jax.vmap(lambda w: sweep(w, BATCHES))(jnp.ones((2, 4)))
    assert len(batched.plot().get_lines()) == 4
    matplotlib.pyplot.close("all")


GOOD = {"start_lr": 1e-3, "end_lr": 1.0, "num_steps": 100}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"start_lr": 1.0, "end_lr": 1.0}, ValueError, r"start_lr must be smaller"),
        ({"start_lr": 2.0, "end_lr": 1.0}, ValueError, r"start_lr=2.0 and end_lr=1.0"),
        ({"start_lr": 0.0}, ValueError, r"start_lr must be a positive.*got 0.0"),
        ({"end_lr": -1.0}, ValueError, r"end_lr must be a positive.*got -1.0"),
        ({"start_lr": float("nan")}, ValueError, r"start_lr must be a positive"),
        ({"start_lr": "1e-3"}, TypeError, r"start_lr must be a positive number"),
        ({"num_steps": 1}, ValueError, r"num_steps must be an integer >= 3.*got 1"),
        ({"num_steps": 2}, ValueError, r"num_steps must be an integer >= 3.*got 2"),
        ({"num_steps": 10.0}, TypeError, r"num_steps must be an integer >= 3"),
        ({"step_mode": "cos"}, ValueError, r"step_mode must be 'exp' or 'linear'"),
        ({"smooth": 0.0}, ValueError, r"smooth must be a positive"),
        ({"smooth": 1.5}, ValueError, r"smooth must be in \(0, 1\], got 1.5"),
        ({"smooth": float("inf")}, ValueError, r"smooth must be a positive, finite"),
        ({"smooth": 1e-45}, ValueError, r"smooth must lie between 1.175e-38 and"),
        ({"end_lr": 1e300}, ValueError, r"end_lr must lie between .*float32.*1e\+300"),
        ({"start_lr": 1e-60}, ValueError, r"start_lr must lie between .*got 1e-60"),
        ({"diverge_threshold": 1.0}, ValueError, r"diverge_threshold must be"),
        ({"num_steps": 150}, ValueError, r"at least num_steps=150 rows.*\[100\]"),
        # Checked before anything of num_steps elements is built.
        ({"num_steps": 10**12}, ValueError, r"at least num_steps=1000000000000 rows"),
        ({"optimizer": optax.sgd(0.1)}, TypeError, r"optimizer must be an optax"),
    ],
)
def test_bad_input_names_the_argument_and_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        sweep(jnp.ones(4), BATCHES, **{**GOOD, **kwargs})


def test_bad_method_and_short_iterator():
    result = sweep(jnp.ones(4), BATCHES, **GOOD)
    with pytest.raises(ValueError, match=r"method must be one of .*got 'fastest'"):
        result.suggestion("fastest")
    with pytest.raises(ValueError, match=r"batches ran out after 5 batches"):
        sweep(jnp.ones(4), iter(list(BATCHES[:5])), **GOOD)


DEMO = _demo.DEFAULTS
DATA = digits.load()


def digits_loss(params, rows):
    return digits.loss(params, DATA.x_train[rows], DATA.y_train[rows])


def test_digits_suggestion_trains_as_well_as_the_demo_default():
    steps, batch, default_lr = DEMO["steps"], DEMO["batch_size"], DEMO["max_lr"]
    n = DATA.x_train.shape[0]
    rows = digits.batch_indices(jax.random.key(100), n, batch, 100)
    # One sweep's suggestion moves with the data order; the median valley of
    # eight is what `onecycle-jax demo --max-lr auto` uses.
    sweeps = jax.vmap(
        lambda k: oc.lr_range_test(
            digits_loss, digits.init(jax.random.key(0)), rows, start_lr=1e-4, key=k
        )
    )(jax.random.split(jax.random.key(1), 8))
    suggested = float(np.median(sweeps.suggestion("valley")))

    def accuracy(max_lr, seed):
        key = jax.random.key(seed)
        indices = digits.batch_indices(jax.random.fold_in(key, 1), n, batch, steps)
        params, _, _ = digits.train(
            oc.sgd(max_lr, steps), digits.init(key), DATA, indices
        )
        return digits.accuracy(params, DATA.x_test, DATA.y_test)

    # A loop over one compiled run: vmapping it compiles slower than it runs.
    run = jax.jit(accuracy)
    ours, default = (
        np.array([float(run(jnp.float32(max_lr), seed)) for seed in range(16)])
        for max_lr in (suggested, default_lr)
    )
    # Near its best max_lr the accuracy is flat to within seed noise, so
    # "as accurate" is checked as "not worse by more than two standard
    # errors of the difference of the means over 16 seeds".
    error = np.sqrt((ours.var(ddof=1) + default.var(ddof=1)) / len(ours))
    assert ours.mean() >= default.mean() - 2 * error, (suggested, ours, default)
