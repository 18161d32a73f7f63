"""Training parity with PyTorch: the same network, data and initial weights,
trained by a torch optimizer under ``OneCycleLR`` and by ours.

Both sides run in float64 for the strict comparison, so that what is
compared is the update rule and the schedule, not float32 rounding (which
SGD at a high learning rate amplifies step after step).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import onecycle_jax as oc
from onecycle_jax import digits

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

STEPS = 200
BATCH = 64
LAYER_LABELS = [{"w": "hidden", "b": "hidden"}, {"w": "out", "b": "out"}]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # A 64-unit network gains nothing from intra-op threads, and on shared
    # cores they contend: 200 steps take seconds instead of a fraction.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def problem():
    data = digits.load()
    params = digits.init(jax.random.key(0))
    n = data.x_train.shape[0]
    indices = digits.batch_indices(jax.random.key(1), n, BATCH, STEPS)
    x = np.asarray(data.x_train, np.float64)
    y = np.asarray(data.y_train)
    return (
        [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in params],
        x[np.asarray(indices)],
        y[np.asarray(indices)],
    )


# name -> (torch optimizer and scheduler arguments, our optimizer)
CASES = {
    "sgd": (
        lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9),
        {"max_lr": 0.5},
        lambda kw: oc.sgd(0.5, STEPS, **kw),
    ),
    "sgd_nesterov": (
        lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True),
        {"max_lr": 0.5},
        lambda kw: oc.sgd(0.5, STEPS, nesterov=True, **kw),
    ),
    "sgd_weight_decay": (
        lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9, weight_decay=5e-3),
        {"max_lr": 0.5},
        lambda kw: oc.sgd(0.5, STEPS, weight_decay=5e-3, **kw),
    ),
    "sgd_groups": (
        lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9),
        {"max_lr": [0.5, 0.1]},
        lambda kw: oc.sgd(
            {"hidden": 0.5, "out": 0.1}, STEPS, param_labels=LAYER_LABELS, **kw
        ),
    ),
    "adam": (
        lambda groups: torch.optim.Adam(groups, lr=1e-3),
        {"max_lr": 1e-2},
        lambda kw: oc.adam(1e-2, STEPS, **kw),
    ),
    "adamw": (
        lambda groups: torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.05),
        {"max_lr": 1e-2},
        lambda kw: oc.adamw(1e-2, STEPS, weight_decay=0.05, **kw),
    ),
}
# Each case runs both anneal strategies and both shapes, in two runs.
SHAPES = [
    {"anneal_strategy": strategy, "three_phase": three_phase}
    for strategy in ("cos", "linear")
    for three_phase in (False, True)
]


def torch_path(problem, case, schedule_kw, dtype):
    """The flat parameters after each step of torch training."""
    params, xs, ys = problem
    make_optimizer, scheduler_kw, _ = CASES[case]
    layers = [
        [torch.tensor(layer[k], dtype=dtype, requires_grad=True) for k in ("w", "b")]
        for layer in params
    ]
    groups = [{"params": layer} for layer in layers]
    optimizer = make_optimizer(groups)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, total_steps=STEPS, **scheduler_kw, **schedule_kw
    )
    (w1, b1), (w2, b2) = layers
    path = []
    for x, y in zip(xs, ys, strict=True):
        optimizer.zero_grad()
        hidden = torch.relu(torch.tensor(x, dtype=dtype) @ w1 + b1)
        loss = torch.nn.functional.cross_entropy(
            hidden @ w2 + b2, torch.tensor(y, dtype=torch.long)
        )
        loss.backward()
        optimizer.step()
        scheduler.step()
        path.append(torch.cat([p.detach().flatten() for p in (w1, b1, w2, b2)]))
    return torch.stack(path).numpy()


def jax_path(problem, opt, dtype):
    """The flat parameters after each step of training with ``opt``."""
    params, xs, ys = problem
    params = jax.tree.map(lambda a: jnp.asarray(a, dtype), params)

    def step(carry, batch):
        params, state = carry
        grads = jax.grad(digits.loss)(params, *batch)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        flat = [params[i][k].ravel() for i in (0, 1) for k in ("w", "b")]
        return (params, state), jnp.concatenate(flat)

    run = jax.jit(lambda p, b: jax.lax.scan(step, (p, opt.init(p)), b)[1])
    return np.asarray(run(params, (jnp.asarray(xs, dtype), jnp.asarray(ys))))


def assert_paths_agree(ours, theirs, rtol):
    # Biases start at zero, so a relative tolerance alone is meaningless for
    # their first steps; atol is rtol on the scale of the weights.
    atol = rtol * float(np.max(np.abs(theirs)))
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    "schedule_kw", SHAPES, ids=["cos-2", "cos-3", "linear-2", "linear-3"]
)
@pytest.mark.parametrize("case", list(CASES))
def test_float64_parity(problem, case, schedule_kw):
    theirs = torch_path(problem, case, schedule_kw, torch.float64)
    with jax.enable_x64(True):
        ours = jax_path(problem, CASES[case][2](schedule_kw), jnp.float64)
    assert ours.dtype == np.float64
    assert_paths_agree(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("case", ["sgd", "sgd_groups", "adamw"])
def test_float32_parity(problem, case):
    theirs = torch_path(problem, case, SHAPES[0], torch.float32)
    ours = jax_path(problem, CASES[case][2](SHAPES[0]), jnp.float32)
    assert_paths_agree(ours, theirs, rtol=1e-4)


def _decay_after_momentum(learning_rate, momentum):
    return optax.chain(
        optax.trace(decay=momentum),
        optax.add_decayed_weights(5e-3),
        optax.scale_by_learning_rate(learning_rate),
    )


def test_weight_decay_placement_matters(problem):
    # Decay added after the momentum buffer (as optax.chain(optax.sgd(...),
    # optax.add_decayed_weights(...)) would place it) is not torch's SGD;
    # oc.sgd adds it before, and matches above at rtol 1e-6.
    with jax.enable_x64(True):
        opt = oc.inject(_decay_after_momentum, oc.onecycle(0.5, STEPS))
        ours = jax_path(problem, opt, jnp.float64)
    theirs = torch_path(problem, "sgd_weight_decay", SHAPES[0], torch.float64)
    scale = float(np.max(np.abs(theirs)))
    assert float(np.max(np.abs(ours - theirs))) > 1e-3 * scale
