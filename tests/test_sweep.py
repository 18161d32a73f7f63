"""A whole sweep trains in one compiled program, exactly as separate runs do.

The training runs in float64: batching changes the order in which XLA sums
a matmul, and over a few hundred float32 steps that rounding grows past
1e-5 for the larger learning rates; float64 keeps it far below, so any
difference left would be a real one (a configuration trained with another's
schedule).
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import onecycle_jax as oc
from onecycle_jax import digits

STEPS = 200
BATCH = 32
MAX_LRS = np.geomspace(0.005, 0.5, 8).tolist()
PCT_STARTS = np.linspace(0.1, 0.8, 8).tolist()


def _float64(data: digits.Data) -> digits.Data:
    return data._replace(
        x_train=data.x_train.astype(jnp.float64), x_test=data.x_test.astype(jnp.float64)
    )


@pytest.fixture(scope="module")
def problem():
    with jax.enable_x64(True):
        data = _float64(digits.load())
        params = digits.init(jax.random.key(0))
        indices = digits.batch_indices(
            jax.random.key(1), data.x_train.shape[0], BATCH, STEPS
        )

        def train(cfg):
            final, _, _ = digits.train(oc.inject(optax.sgd, cfg), params, data, indices)
            return final

        yield jax.jit(jax.vmap(train)), jax.jit(train)


def _assert_same(sweep_params, index, run_params):
    for swept, alone in zip(
        jax.tree.leaves(sweep_params), jax.tree.leaves(run_params), strict=True
    ):
        np.testing.assert_allclose(swept[index], alone, rtol=1e-5, atol=1e-9)


def test_a_sweep_of_64_equals_64_separate_runs_and_compiles_once(problem):
    sweep, run = problem
    grid = oc.grid(max_lr=MAX_LRS, pct_start=PCT_STARTS, total_steps=STEPS)

    with jax.enable_x64(True):
        swept = sweep(grid)
        runs = [run(grid[i]) for i in range(len(grid))]

    assert len(grid) == 64
    assert jax.tree.leaves(swept)[0].shape[0] == 64
    for index, alone in enumerate(runs):
        _assert_same(swept, index, alone)
    assert sweep._cache_size() == 1
    assert run._cache_size() == 1


def test_other_values_reuse_the_compiled_sweep(problem):
    sweep, run = problem
    first = oc.grid(max_lr=MAX_LRS, pct_start=PCT_STARTS, total_steps=STEPS)
    # Other values everywhere, total_steps included: the values are arguments
    # of the compiled program, not constants baked into it.
    other = oc.grid(
        max_lr=np.geomspace(0.01, 0.3, 8).tolist(),
        pct_start=[0.25, 0.5],
        total_steps=[STEPS, STEPS // 2, STEPS // 4, STEPS + 50],
        div_factor=10.0,
        base_momentum=0.8,
    )

    with jax.enable_x64(True):
        before = sweep(first)
        after = sweep(other)
        checked = {i: run(other[i]) for i in (0, 13, 38, 63)}

    assert len(other) == 64
    assert sweep._cache_size() == 1
    assert run._cache_size() == 1
    first_leaf = jax.tree.leaves(before)[0]
    assert not np.allclose(jax.tree.leaves(after)[0], first_leaf)
    for index, alone in checked.items():
        _assert_same(after, index, alone)


_SHARDED = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import NamedSharding, PartitionSpec
    import onecycle_jax as oc
    from onecycle_jax import digits

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_numpy_dtype_promotion", "strict")
    data = digits.load()
    data = data._replace(x_train=data.x_train.astype(jnp.float64),
                         x_test=data.x_test.astype(jnp.float64))
    params = digits.init(jax.random.key(0))
    indices = digits.batch_indices(jax.random.key(1), data.x_train.shape[0], 32, 100)

    def train(cfg):
        final, _, _ = digits.train(oc.inject(optax.sgd, cfg), params, data, indices)
        return final

    grid = oc.grid(max_lr=np.geomspace(0.005, 0.5, 8).tolist(),
                   pct_start=np.linspace(0.1, 0.8, 8).tolist(), total_steps=100)
    sweep = jax.jit(jax.vmap(train))
    plain = sweep(grid)
    # Auto axes: jit propagates the configuration sharding through the scan.
    mesh = jax.make_mesh((8,), ("config",), axis_types=(jax.sharding.AxisType.Auto,))
    sharded_grid = jax.device_put(grid, NamedSharding(mesh, PartitionSpec("config")))
    sharded = sweep(sharded_grid)
    leaf = jax.tree.leaves(sharded)[0]
    worst = max(
        float(np.max(np.abs(a - b) / (np.abs(b) + 1e-9)))
        for a, b in zip(jax.tree.leaves(sharded), jax.tree.leaves(plain))
    )
    print(json.dumps({
        "devices": jax.device_count(),
        "grid_devices": len(jax.tree.leaves(sharded_grid)[0].sharding.device_set),
        "result_devices": len(leaf.sharding.device_set),
        "shard_rows": sorted({s.data.shape[0] for s in leaf.addressable_shards}),
        "rows": leaf.shape[0],
        "worst_relative": worst,
    }))
    """
)


def test_the_sweep_shards_over_eight_devices_with_the_same_results():
    # The device count is fixed when JAX starts, so this runs in a fresh
    # interpreter.
    flags = os.environ.get("XLA_FLAGS", "")
    env = {
        **os.environ,
        "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count=8".strip(),
        "JAX_PLATFORMS": "cpu",
    }

    done = subprocess.run(
        [sys.executable, "-c", _SHARDED],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["devices"] == 8
    assert figures["grid_devices"] == 8
    assert figures["result_devices"] == 8
    assert figures["shard_rows"] == [8]
    assert figures["rows"] == 64
    assert figures["worst_relative"] < 1e-5
