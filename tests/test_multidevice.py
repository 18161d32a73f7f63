"""Data-parallel training over 8 (host-simulated) devices.

The device count must be set before JAX starts, so the check runs in a new
process: this file, run as a script with ``XLA_FLAGS`` set.
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import onecycle_jax as oc
from onecycle_jax import digits

DEVICES = 8
STEPS = 24


def data_parallel_check(dtype, rtol, atol):
    """Runs in the 8-device process; raises AssertionError on a mismatch."""
    assert jax.device_count() == DEVICES, jax.devices()
    mesh = jax.make_mesh((DEVICES,), ("data",))
    replicated = NamedSharding(mesh, P())
    by_batch = NamedSharding(mesh, P("data"))
    sched = oc.onecycle(0.5, STEPS, three_phase=True)
    opt = oc.sgd(0.5, STEPS, nesterov=True, three_phase=True)

    @jax.jit
    def step(params, state, x, y):
        grads = jax.grad(digits.loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    # NumPy batches: slicing a device array per step costs more than a step.
    rng = np.random.default_rng(3)
    xs = rng.uniform(size=(STEPS, 8 * DEVICES, 64)).astype(dtype)
    ys = rng.integers(0, 10, size=(STEPS, 8 * DEVICES)).astype(np.int32)
    params = jax.tree.map(lambda a: a.astype(dtype), digits.init(jax.random.key(0)))
    one = jax.devices()[0]
    single = (jax.device_put(params, one), jax.device_put(opt.init(params), one))
    sharded = (
        jax.device_put(params, replicated),
        jax.device_put(opt.init(params), replicated),
    )
    for x, y in zip(xs, ys, strict=True):
        single = step(*single, jax.device_put(x, one), jax.device_put(y, one))
        sharded = step(
            *sharded, jax.device_put(x, by_batch), jax.device_put(y, by_batch)
        )

    leaves = jax.tree.leaves(sharded[0])
    assert all(leaf.sharding.is_fully_replicated for leaf in leaves)
    for a, b in zip(leaves, jax.tree.leaves(single[0]), strict=True):
        assert a.dtype == dtype
        # The sharded gradient is a sum across devices, in another order.
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for name in ("learning_rate", "momentum"):
        shards = [s.data for s in oc.hyperparams(sharded[1])[name].addressable_shards]
        assert len(shards) == DEVICES
        assert all(np.array_equal(s, shards[0]) for s in shards)
        assert np.array_equal(shards[0], oc.hyperparams(single[1])[name])

    # The whole schedule, evaluated on every device at once.
    counts = jnp.broadcast_to(jnp.arange(STEPS), (DEVICES, STEPS))
    per_device = jax.jit(
        jax.shard_map(
            lambda c: jnp.stack([sched(c), sched.momentum(c)]),
            mesh=mesh,
            in_specs=P("data"),
            out_specs=P(None, "data"),
        )
    )(jax.device_put(counts, by_batch))
    per_device = np.asarray(per_device)
    assert all(
        np.array_equal(row, per_device[:, 0]) for row in per_device.swapaxes(0, 1)
    )
    np.testing.assert_allclose(per_device[0, 0], sched(jnp.arange(STEPS)), rtol=3e-7)


def test_data_parallel_step_matches_one_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={DEVICES}"
    )
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, __file__],
        env=env,
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"{DEVICES} devices agree"


if __name__ == "__main__":
    data_parallel_check(jnp.float32, rtol=1e-5, atol=1e-6)
    # In float64 the summation order matters far less: what is left of the
    # float32 differences above is rounding, not the algorithm.
    with jax.enable_x64(True):
        data_parallel_check(jnp.float64, rtol=1e-12, atol=1e-14)
    print(f"{DEVICES} devices agree")
