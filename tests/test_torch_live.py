"""Random configurations against a live PyTorch (skipped where torch is absent)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import onecycle_jax as oc
from benchmarks.torch_replica import torch_curve

_SCRIPT = Path(__file__).parent / "golden" / "make_golden.py"
_spec = importlib.util.spec_from_file_location("make_golden", _SCRIPT)
make_golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_golden)

PAD = 128


@st.composite
def torch_configs(draw):
    groups = draw(st.integers(1, 3))
    three_phase = draw(st.booleans())
    total = draw(st.integers(1, PAD - 1))

    def per_group(values):
        return draw(
            st.one_of(values, st.lists(values, min_size=groups, max_size=groups))
        )

    kwargs = dict(
        max_lr=per_group(st.floats(1e-5, 10.0)),
        total_steps=total,
        # PyTorch insists on a float pct_start.
        pct_start=draw(st.floats(0.0, 0.5 if three_phase else 1.0)),
        anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
        div_factor=draw(st.floats(0.1, 1e3)),
        final_div_factor=draw(st.floats(0.1, 1e6)),
        base_momentum=per_group(st.floats(0.5, 0.9)),
        max_momentum=per_group(st.floats(0.9, 0.999)),
        three_phase=three_phase,
        cycle_momentum=draw(st.booleans()),
    )
    if draw(st.booleans()):
        kwargs["last_epoch"] = draw(st.integers(0, total - 1))
    return dict(
        name="live",
        optimizer=draw(st.sampled_from(["sgd", "adam"])),
        groups=groups,
        kwargs=kwargs,
    )


@pytest.mark.torch
@settings(max_examples=20, deadline=None)
@given(torch_configs())
def test_random_configurations_match_torch(config):
    torch = pytest.importorskip("torch")
    record = make_golden.record(torch, config)
    kwargs = record["kwargs"]
    if not record["lr"]:
        return
    sched = oc.onecycle(**kwargs)
    offset = record["first_step"] - kwargs.get("last_epoch", -1) - 1
    n = len(record["lr"][0])
    counts = jnp.arange(PAD) + offset
    steps = np.arange(n) + record["first_step"]
    replica = torch_curve(steps, kwargs)
    for index, what in enumerate(("lr", "momentum")):
        golden = np.asarray(record[what]).T
        ours = np.asarray(getattr(sched, what)(counts), np.float64)[:n].reshape(n, -1)
        ours = np.broadcast_to(ours, golden.shape)
        np.testing.assert_allclose(ours, golden, rtol=4e-6, atol=0)
        # The replica used for long cycles repeats torch bit for bit.
        mirrored = np.broadcast_to(replica[index].reshape(n, -1), golden.shape)
        np.testing.assert_array_equal(mirrored, golden)


@pytest.mark.torch
@pytest.mark.parametrize("last_epoch", [0, 9, 30, 58])
def test_resumed_torch_scheduler_continues_the_curve(last_epoch):
    """A torch scheduler resumed with last_epoch=k is our schedule with last_epoch=k."""
    torch = pytest.importorskip("torch")
    config = dict(
        name="resume",
        optimizer="sgd",
        groups=2,
        kwargs=dict(
            max_lr=[0.1, 0.4], total_steps=60, three_phase=True, last_epoch=last_epoch
        ),
    )
    record = make_golden.record(torch, config)
    sched = oc.onecycle(**config["kwargs"])
    n = len(record["lr"][0])
    np.testing.assert_allclose(
        sched(jnp.arange(n)), np.asarray(record["lr"]).T, rtol=4e-6
    )
    np.testing.assert_allclose(
        sched.momentum(jnp.arange(n)), np.asarray(record["momentum"]).T, rtol=4e-6
    )
