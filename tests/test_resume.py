"""Resuming a cycle: from an orbax checkpoint in a new process, and by
``last_epoch`` with a fresh optimizer state.

Run as a script, this file is the new process: it restores the checkpoint,
trains the remaining steps and saves the parameters.
"""

import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax

import onecycle_jax as oc
from onecycle_jax import digits

STEPS = 200
SPLIT = 120


def make_optimizer(**kwargs):
    return oc.adamw(1e-2, STEPS, weight_decay=1e-3, three_phase=True, **kwargs)


def make_step(opt):
    @jax.jit
    def step(params, state, x, y):
        grads = jax.grad(digits.loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, oc.hyperparams(state)

    return step


def train(step, params, state, xs, ys):
    logged = []
    for x, y in zip(xs, ys, strict=True):
        params, state, hp = step(params, state, x, y)
        logged.append(hp)
    return params, state, jax.tree.map(lambda *v: np.stack(v), *logged)


def resume(directory):
    """The new process: restore, train the rest, save the parameters."""
    import orbax.checkpoint as ocp

    directory = Path(directory)
    batches = np.load(directory / "batches.npz")
    opt = make_optimizer()
    template = digits.init(jax.random.key(0))
    target = {"params": template, "opt_state": opt.init(template)}
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(directory / "checkpoint", target)
    params, _, _ = train(
        make_step(opt),
        restored["params"],
        restored["opt_state"],
        batches["x"],
        batches["y"],
    )
    leaves = jax.tree.leaves(params)
    np.savez(directory / "resumed.npz", *[np.asarray(x) for x in leaves])


def test_checkpoint_resume_in_a_new_process_and_by_last_epoch(tmp_path):
    import orbax.checkpoint as ocp

    data = digits.load()
    indices = digits.batch_indices(jax.random.key(1), data.x_train.shape[0], 32, STEPS)
    # NumPy batches: slicing a device array per step costs more than a step.
    xs, ys = np.asarray(data.x_train)[indices], np.asarray(data.y_train)[indices]
    params = digits.init(jax.random.key(0))
    opt = make_optimizer()

    step = make_step(opt)
    whole, _, whole_hp = train(step, params, opt.init(params), xs, ys)
    first, state, _ = train(step, params, opt.init(params), xs[:SPLIT], ys[:SPLIT])
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(
            tmp_path / "checkpoint", {"params": first, "opt_state": state}
        )
    np.savez(tmp_path / "batches.npz", x=xs[SPLIT:], y=ys[SPLIT:])
    subprocess.run(
        [sys.executable, __file__, str(tmp_path)],
        check=True,
        cwd=Path(__file__).parents[1],
        timeout=300,
    )
    resumed = np.load(tmp_path / "resumed.npz")
    for i, expected in enumerate(jax.tree.leaves(whole)):
        np.testing.assert_array_equal(resumed[f"arr_{i}"], expected)

    # A fresh state, told the cycle is SPLIT steps in, picks up the same
    # learning rates and momenta (its moments start afresh, so not params).
    late = make_optimizer(last_epoch=SPLIT - 1)
    late_step = make_step(late)
    _, state, late_hp = train(
        late_step, first, late.init(first), xs[SPLIT:], ys[SPLIT:]
    )
    for name in ("learning_rate", "b1"):
        np.testing.assert_allclose(late_hp[name], whole_hp[name][SPLIT:], rtol=3e-7)
    assert int(state.count) == STEPS - SPLIT
    assert float(whole_hp["learning_rate"][-1]) < 1e-6 < float(late_hp["b1"][0])


if __name__ == "__main__":
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    resume(sys.argv[1])
