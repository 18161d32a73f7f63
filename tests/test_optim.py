"""The optax optimizers: what they schedule, their dtypes, groups and errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import onecycle_jax as oc
from onecycle_jax import digits

STEPS = 30


@pytest.fixture(scope="module")
def problem():
    data = digits.load()
    params = digits.init(jax.random.key(0))
    indices = digits.batch_indices(jax.random.key(1), data.x_train.shape[0], 32, STEPS)
    return data, params, indices


def _logged(opt, params, steps):
    """The hyperparameters each of ``steps`` updates used, stacked."""

    def step(state, _):
        grads = jax.tree.map(jnp.ones_like, params)
        _, state = opt.update(grads, state, params)
        return state, oc.hyperparams(state)

    _, logged = jax.lax.scan(step, opt.init(params), length=steps)
    return logged


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda kw: oc.sgd(0.3, STEPS, **kw), "momentum"),
        (lambda kw: oc.adam(0.3, STEPS, **kw), "b1"),
        (lambda kw: oc.adamw(0.3, STEPS, **kw), "b1"),
        (lambda kw: oc.inject(optax.lion, oc.onecycle(0.3, STEPS, **kw)), "b1"),
    ],
)
@pytest.mark.parametrize("three_phase", [False, True])
def test_each_update_uses_the_schedule_at_its_count(build, name, three_phase):
    kw = {"three_phase": three_phase, "anneal_strategy": "linear", "pct_start": 0.25}
    sched = oc.onecycle(0.3, STEPS, **kw)
    logged = _logged(build(kw), jnp.zeros(3), STEPS)
    counts = jnp.arange(STEPS)
    # Inside the optimizer XLA compiles the schedule into another program,
    # whose fusions may round the last float32 bit differently.
    np.testing.assert_allclose(logged["learning_rate"], sched(counts), rtol=3e-7)
    np.testing.assert_allclose(logged[name], sched.momentum(counts), rtol=3e-7)


def test_init_holds_the_values_of_the_first_update():
    state = oc.sgd(0.5, 10, div_factor=5.0).init(jnp.zeros(2))
    hp = oc.hyperparams(state)
    assert float(hp["learning_rate"]) == pytest.approx(0.1, rel=1e-7)
    assert float(hp["momentum"]) == pytest.approx(0.95, rel=1e-7)


def test_without_cycle_momentum_max_momentum_is_held():
    opt = oc.sgd(0.1, 10, cycle_momentum=False, max_momentum=0.9)
    logged = _logged(opt, jnp.zeros(2), 10)
    np.testing.assert_array_equal(logged["momentum"], np.full(10, np.float32(0.9)))


def test_without_cycle_momentum_a_fixed_momentum_is_kept():
    sched = oc.onecycle(0.1, 10, cycle_momentum=False)
    logged = _logged(oc.inject(optax.adam, sched, b1=0.8), jnp.zeros(2), 10)
    np.testing.assert_array_equal(logged["b1"], np.full(10, np.float32(0.8)))
    # A mask is a callable but no schedule.
    opt = oc.inject(optax.adamw, sched, mask=lambda p: jax.tree.map(lambda _: True, p))
    assert float(oc.hyperparams(opt.init(jnp.zeros(2)))["b1"]) == np.float32(0.95)


def test_lr_only_keeps_the_optimizers_own_momentum():
    opt = oc.inject(optax.adam, oc.onecycle(0.1, 10), momentum=None, b1=0.5)
    logged = _logged(opt, jnp.zeros(2), 10)
    np.testing.assert_array_equal(logged["b1"], np.full(10, np.float32(0.5)))
    np.testing.assert_array_equal(
        logged["learning_rate"], oc.onecycle(0.1, 10)(jnp.arange(10))
    )


def _descend(opt, params, steps):
    """Params after each of ``steps`` updates on ``sum((p - 1) ** 2) / 2``."""

    def step(carry, _):
        params, state = carry
        grads = jax.tree.map(lambda p: p - jnp.ones((), p.dtype), params)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), params

    (_, state), path = jax.lax.scan(step, (params, opt.init(params)), length=steps)
    return path, state


def test_hyperparameters_stay_float32_next_to_bfloat16():
    params = {"w": jnp.zeros(4, jnp.bfloat16)}
    for opt, name in (
        (oc.sgd(0.1, STEPS, cycle_momentum=False), "momentum"),
        (oc.adam(0.1, STEPS), "b1"),
    ):
        assert oc.hyperparams(opt.init(params))[name].dtype == jnp.float32
        path, state = jax.jit(_descend, static_argnums=(0, 2))(opt, params, STEPS)
        hp = oc.hyperparams(state)
        assert all(v.dtype == jnp.float32 for v in hp.values())
        # bfloat16 would hold 0.95 as 0.94921875.
        assert float(hp[name]) == float(np.float32(0.95))
        # Optimizer states and params keep their dtype from step to step.
        arrays = jax.tree.leaves(state.inner_state) + jax.tree.leaves(path)
        assert {x.dtype for x in arrays if x.ndim > 0} == {jnp.dtype(jnp.bfloat16)}
        assert abs(1.0 - float(path["w"][-1, 0])) < 0.7  # it started 1.0 away
    fixed = oc.adam(0.01, STEPS).init(params)
    assert float(oc.hyperparams(fixed)["b2"]) == float(np.float32(0.999))


def test_vmapped_sweep_matches_single_runs(problem):
    data, params, indices = problem

    def run(max_lr, base_momentum, wd):
        opt = oc.sgd(max_lr, STEPS, base_momentum=base_momentum, weight_decay=wd)
        return digits.train(opt, params, data, indices)[2]

    lrs = jnp.array([0.05, 0.3])
    swept = jax.jit(jax.vmap(run))(lrs, jnp.array([0.8, 0.9]), jnp.array([0.0, 1e-3]))
    single = jax.jit(run)(lrs[1], jnp.float32(0.9), jnp.float32(1e-3))
    np.testing.assert_allclose(swept[1], single, rtol=1e-6)

    def logged(max_lr, pct_start):
        sched = oc.onecycle(max_lr, STEPS, pct_start=pct_start)
        return _logged(oc.inject(optax.lion, sched), jnp.zeros(2), STEPS)

    swept = jax.vmap(logged)(lrs, jnp.array([0.2, 0.4]))
    for i, pct in enumerate((0.2, 0.4)):
        sched = oc.onecycle(float(lrs[i]), STEPS, pct_start=pct)
        np.testing.assert_allclose(
            swept["learning_rate"][i], sched(jnp.arange(STEPS)), rtol=1e-6
        )
        np.testing.assert_allclose(
            swept["b1"][i], sched.momentum(jnp.arange(STEPS)), rtol=1e-6
        )


LABELS = [{"w": "hidden", "b": "hidden"}, {"w": "out", "b": "out"}]


def test_groups_follow_their_own_cycles():
    params = [{"w": jnp.zeros(2), "b": jnp.zeros(1)}, {"w": jnp.zeros(3), "b": 0.0}]
    params = jax.tree.map(jnp.asarray, params)
    by_label = oc.sgd(
        {"hidden": 0.2, "out": 0.05}, STEPS, max_momentum={"hidden": 0.9, "out": 0.95},
        param_labels=LABELS,
    )  # fmt: skip
    by_index = oc.inject(
        optax.sgd,
        oc.onecycle([0.2, 0.05], STEPS, max_momentum=[0.9, 0.95]),
        param_labels=lambda p: [{"w": i, "b": i} for i in range(len(p))],
    )
    path_label, state = _descend(by_label, params, STEPS)
    path_index, _ = _descend(by_index, params, STEPS)
    for a, b in zip(
        jax.tree.leaves(path_label), jax.tree.leaves(path_index), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # Each group moves as a one-group optimizer with its own values would.
    for index, (peak, high) in enumerate(((0.2, 0.9), (0.05, 0.95))):
        alone, _ = _descend(
            oc.sgd(peak, STEPS, max_momentum=high), params[index], STEPS
        )
        for a, b in zip(
            jax.tree.leaves(alone), jax.tree.leaves(path_label[index]), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    assert set(oc.hyperparams(state)) == {"hidden", "out"}
    logged = _logged(by_label, params, STEPS)
    for label, peak, high in (("hidden", 0.2, 0.9), ("out", 0.05, 0.95)):
        sched = oc.onecycle(peak, STEPS, max_momentum=high)
        np.testing.assert_allclose(
            logged[label]["learning_rate"], sched(jnp.arange(STEPS)), rtol=3e-7
        )
        np.testing.assert_allclose(
            logged[label]["momentum"], sched.momentum(jnp.arange(STEPS)), rtol=3e-7
        )
    peaks = [int(jnp.argmax(logged[k]["learning_rate"])) for k in ("hidden", "out")]
    assert peaks[0] == peaks[1]


def test_hyperparams_found_inside_wrappers():
    opt = optax.MultiSteps(
        optax.chain(optax.clip_by_global_norm(1.0), oc.adam(0.1, 10)),
        every_k_schedule=2,
    )
    hp = oc.hyperparams(opt.init(jnp.zeros(2)))
    assert float(hp["b1"]) == pytest.approx(0.95)
    with pytest.raises(ValueError, match="found no injected"):
        oc.hyperparams(optax.sgd(0.1).init(jnp.zeros(2)))
    both = optax.chain(oc.sgd(0.1, 10), oc.adam(0.1, 10))
    with pytest.raises(ValueError, match="found 2 sets"):
        oc.hyperparams(both.init(jnp.zeros(2)))


def test_hyperparams_ambiguous_inside_a_group_or_an_injection_raises():
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    both = optax.chain(oc.sgd(0.1, 10), oc.adam(0.1, 10))
    split = optax.partition({"x": both, "y": oc.sgd(0.1, 10)}, {"a": "x", "b": "y"})
    match = r"group 'x' holds 2 sets .*\{b1, b2, eps, learning_rate\}"
    with pytest.raises(ValueError, match=match):
        oc.hyperparams(split.init(params))
    outer = optax.inject_hyperparams(
        lambda learning_rate: optax.chain(optax.scale(learning_rate), oc.sgd(0.1, 10))
    )(learning_rate=1.0)
    match = r"found 2 sets .*\{learning_rate\}; \{learning_rate, momentum\}"
    with pytest.raises(ValueError, match=match):
        oc.hyperparams(outer.init(params))


def test_one_compilation_and_no_host_sync(problem):
    data, params, _ = problem
    opt = oc.sgd(0.1, 300, nesterov=True, weight_decay=1e-4)

    @jax.jit
    def step(params, state, x, y):
        grads = jax.grad(digits.loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    indices = digits.batch_indices(jax.random.key(2), data.x_train.shape[0], 32, 300)
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    batches = jax.device_put([(x[i], y[i]) for i in np.asarray(indices)])
    state = opt.init(params)
    with jax.transfer_guard("disallow"):
        for x, y in batches:
            params, state = step(params, state, x, y)
    assert step._cache_size() == 1
    assert int(state.count) == 300


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: oc.inject(optax.sgd, oc.onecycle(0.1, 10), "b1"), ValueError,
         "momentum='b1', but sgd has no hyperparameter 'b1'"),
        (lambda: oc.inject(optax.sgd, oc.onecycle(0.1, 10), 0.9), TypeError,
         "momentum must name the hyperparameter"),
        (lambda: oc.inject(optax.sgd, oc.onecycle(0.1, 10), nesterovv=True),
         ValueError, "sgd has no argument 'nesterovv'"),
        (lambda: oc.inject(optax.sgd, oc.onecycle(0.1, 10), learning_rate=0.1),
         ValueError, "learning_rate follows the schedule"),
        (lambda: oc.inject(optax.adam, oc.onecycle(0.1, 10), b1=0.9), ValueError,
         "b1 follows the schedule's momentum and cannot also be fixed"),
        (lambda: oc.inject(optax.sgd, 0.1), TypeError, "sched must be a OneCycle"),
        (lambda: oc.inject(optax.sgd, oc.onecycle([0.1, 0.2], 10)), ValueError,
         "pass param_labels"),
        (lambda: oc.inject(optax.sgd, {"a": oc.onecycle(0.1, 10)}), ValueError,
         "pass param_labels"),
        (lambda: oc.sgd(0.1, 10, param_labels={"a": "x", "b": "x"}), ValueError,
         r"param_labels needs per-group values.*group shape \(\)"),
        (lambda: oc.inject(optax.sgd, oc.onecycle(0.1, 10), param_labels=[0]),
         ValueError, r"param_labels needs per-group values"),
        (lambda: oc.inject(optax.sgd, {"x": oc.onecycle([0.1, 0.2], 10)},
                           param_labels=["x"]),
         ValueError, r"sched\['x'\] has per-group .*must be single-group"),
        (lambda: oc.inject(optax.scale_by_sign, oc.onecycle(0.1, 10)), ValueError,
         "must take a learning_rate"),
        (lambda: oc.sgd(0.1, 10, weight_decay=-1.0), ValueError,
         "weight_decay must be non-negative and finite, got -1.0"),
        (lambda: oc.sgd(0.1, 10, nesterov=1), TypeError, "nesterov must be True"),
        (lambda: oc.adam(0.1, 10, b2=1.0), ValueError, r"b2 must be in \[0, 1.0\)"),
        (lambda: oc.adamw(0.1, 10, weight_decay="1"), TypeError, "weight_decay"),
        (lambda: oc.adamw(0.1, 10, eps=np.ones(2)), ValueError,
         r"eps must be a scalar, got shape \(2,\)"),
        (lambda: oc.sgd({"a": 0.1}, 10, max_momentum={"b": 0.9}), ValueError,
         "must map the same group labels"),
        (lambda: oc.sgd({}, 10), ValueError, "max_lr must map at least one"),
        (lambda: oc.sgd({"a": -0.1}, 10, param_labels=["a"]), ValueError,
         "max_lr must be positive"),
        (lambda: oc.adam(0.1, 10, max_momentum=1.0), ValueError,
         r"max_momentum must be in \[0, 1\) for Adam's b1, got 1.0"),
        (lambda: oc.adamw(0.1, 10, base_momentum=1.0, max_momentum=1.0),
         ValueError, r"base_momentum must be in \[0, 1\) for Adam's b1, got 1.0"),
        (lambda: oc.adam({"a": 0.1, "b": 0.2}, 10, max_momentum={"a": 0.9, "b": 1}),
         ValueError, r"max_momentum must be in \[0, 1\) for Adam's b1"),
        (lambda: oc.sgd(0.1, 10, momentum=0.9), TypeError,
         r"sgd\(\) got an unexpected keyword argument 'momentum'.*"
         r"cycle_momentum=False, max_momentum=0.9"),
        (lambda: oc.adam(0.1, 10, b1=0.8), TypeError,
         r"adam\(\) got .* 'b1'.*fixed b1 pass cycle_momentum=False, max_momentum=0.8"),
        (lambda: oc.adamw(0.1, 10, betas=(0.9, 0.99)), TypeError,
         r"adamw\(\) got an unexpected keyword argument 'betas'"),
        (lambda: oc.sgd(0.1, 10, nesterov=np.int64(1)), TypeError,
         "nesterov must be True or False"),
        (lambda: oc.sgd(0.1, 10, weight_decay=np.bool_(True)), TypeError,
         "weight_decay must be a number"),
    ],
)  # fmt: skip
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_adam_holding_b1_at_a_valid_max_momentum_ignores_base_momentum():
    opt = oc.adam(0.1, 10, cycle_momentum=False, base_momentum=1.0, max_momentum=0.9)
    updates, _ = opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))
    assert np.all(np.isfinite(updates))


@pytest.mark.parametrize(
    ("factory", "name", "dtype"),
    [
        (optax.adam, "mu_dtype", jnp.bfloat16),
        (optax.adam, "mu_dtype", "bfloat16"),
        (optax.adam, "mu_dtype", np.dtype(jnp.bfloat16)),
        (optax.sgd, "accumulator_dtype", jnp.bfloat16),
    ],
)
def test_dtype_arguments_pass_through_untouched(factory, name, dtype):
    opt = oc.inject(factory, oc.onecycle(1e-3, 10), **{name: dtype})
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    updates, state = opt.update({"w": jnp.ones(2)}, state, params)
    # Adam's mu and SGD's trace come first among the per-parameter buffers.
    buffer = next(x for x in jax.tree.leaves(state.inner_state) if x.shape == (2,))
    assert buffer.dtype == jnp.bfloat16 and updates["w"].dtype == jnp.float32
    assert np.all(np.isfinite(updates["w"]))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weight_decay": np.int64(1)},
        {"weight_decay": jnp.array(1)},
        {"weight_decay": jnp.array(1.0)},
        {"nesterov": np.True_},
    ],
)
def test_numpy_and_jax_scalars_work_like_python_ones(kwargs):
    plain = {k: bool(v) if k == "nesterov" else float(v) for k, v in kwargs.items()}
    params = jnp.ones(2)

    def first_update(opt):
        return opt.update(jnp.ones(2), opt.init(params), params)[0]

    np.testing.assert_array_equal(
        first_update(oc.sgd(0.1, 10, **kwargs)), first_update(oc.sgd(0.1, 10, **plain))
    )


def test_zero_weight_decay_as_a_jax_integer():
    params = jnp.ones(2)
    opt = oc.sgd(0.1, 10, weight_decay=jnp.array(0))
    np.testing.assert_array_equal(
        opt.update(jnp.ones(2), opt.init(params), params)[0],
        oc.sgd(0.1, 10).update(jnp.ones(2), oc.sgd(0.1, 10).init(params), params)[0],
    )


@pytest.mark.parametrize(
    "labels", [{"a": "x", "b": "x"}, lambda params: {"a": "x", "b": "x"}]
)
def test_a_group_no_parameter_carries_is_an_error(labels):
    opt = oc.sgd({"x": 0.1, "y": 0.2}, 10, param_labels=labels)
    with pytest.raises(ValueError, match="no parameter is labelled 'y'"):
        opt.init({"a": jnp.ones(2), "b": jnp.ones(2)})
