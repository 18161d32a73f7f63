"""onecycle_jax against PyTorch's recorded values, at every step of every record.

The records come from ``tests/golden/make_golden.py`` (real torch 2.13.0); these
tests need no torch. Relative error is measured against PyTorch's float64
values: at most 4e-6 in float32. Under x64 it is at most 1e-12 against the
exact value of PyTorch's formula (``torch_replica`` in extended precision),
and against PyTorch itself up to PyTorch's own float64 rounding (its formulas
cancel near the end of a cycle, by up to 6e-12 relative on these records).
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import onecycle_jax as oc
from benchmarks.torch_replica import boundaries, torch_values

GOLDEN = json.loads(
    (Path(__file__).parent / "golden" / "onecycle_torch.json").read_text()
)["configs"]
RECORDS = [record for record in GOLDEN if record["lr"]]
F32_RTOL = 4e-6
F64_RTOL = 1e-12
PAD = 1024


def _counts(record: dict) -> np.ndarray:
    """The optax counts of a record's steps: PyTorch's step minus last_epoch + 1."""
    offset = record["first_step"] - record["kwargs"].get("last_epoch", -1) - 1
    return np.arange(len(record["lr"][0])) + offset


def _golden(record: dict, what: str) -> np.ndarray:
    return np.asarray(record[what], np.float64).T  # (count, group)


def _ours(record: dict, what: str) -> np.ndarray:
    # Every record is evaluated on the same padded count shape: eager JAX
    # compiles each operation once per shape, so one shape keeps this fast.
    sched = oc.onecycle(**record["kwargs"])
    counts = _counts(record)
    padded = jnp.arange(PAD) + int(counts[0])
    values = np.asarray(getattr(sched, what)(padded))[: len(counts)]
    golden = _golden(record, what)
    return np.broadcast_to(values.reshape(len(counts), -1), golden.shape)


def _relative(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(ours - reference) / np.abs(reference)))


def test_golden_file_covers_the_options():
    kwargs = [record["kwargs"] for record in GOLDEN]
    assert len(RECORDS) >= 30
    assert {k.get("anneal_strategy", "cos") for k in kwargs} == {"cos", "linear"}
    assert {k.get("three_phase", False) for k in kwargs} == {True, False}
    assert {k.get("cycle_momentum", True) for k in kwargs} == {True, False}
    assert {r["optimizer"] for r in GOLDEN} == {"sgd", "adam"}
    assert {k["total_steps"] for k in kwargs if "total_steps" in k} >= {1, 2, 3, 4, 5}
    assert any(k.get("last_epoch", -1) > 0 for k in kwargs)
    assert any("epochs" in k for k in kwargs)
    for name in ("max_lr", "base_momentum", "max_momentum"):
        assert any(isinstance(k.get(name), list) for k in kwargs), name
    assert any(r["undefined_steps"] for r in GOLDEN)


@pytest.mark.parametrize("what", ["lr", "momentum"])
@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["name"])
def test_float32_matches_torch(record, what):
    golden = _golden(record, what)
    ours = _ours(record, what)
    assert ours.dtype == np.float32
    assert _relative(ours.astype(np.float64), golden) <= F32_RTOL


@pytest.mark.parametrize("what", ["lr", "momentum"])
@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["name"])
def test_float64_matches_torch(record, what):
    with jax.enable_x64(True):
        ours = _ours(record, what)
    assert ours.dtype == np.float64
    steps = _counts(record) + record["kwargs"].get("last_epoch", -1) + 1
    exact = torch_values(steps, record["kwargs"], what, np.longdouble)
    exact = np.broadcast_to(exact.reshape(len(steps), -1), ours.shape)
    assert _relative(ours.astype(np.longdouble), exact) <= F64_RTOL
    # PyTorch's own float64 result is off by a few ulps of the larger phase
    # value; allow that much besides the relative target.
    golden = _golden(record, what)
    scale = max(np.max(np.abs(v)) for v in boundaries(record["kwargs"], what)[0])
    np.testing.assert_allclose(ours, golden, rtol=F64_RTOL, atol=8e-16 * scale)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["name"])
def test_replica_is_torch(record):
    """The NumPy replica used for large total_steps repeats torch bit for bit."""
    steps = _counts(record) + record["kwargs"].get("last_epoch", -1) + 1
    for what in ("lr", "momentum"):
        golden = _golden(record, what)
        replica = torch_values(steps, record["kwargs"], what)
        replica = np.broadcast_to(replica.reshape(len(steps), -1), golden.shape)
        np.testing.assert_array_equal(replica, golden)


@pytest.mark.parametrize(
    "record", [r for r in GOLDEN if r["undefined_steps"]], ids=lambda r: r["name"]
)
def test_zero_width_phase_takes_its_end_value(record):
    """Where PyTorch divides by zero, the phase's end value; elsewhere PyTorch's."""
    kwargs = record["kwargs"]
    sched = oc.onecycle(**kwargs)
    last_epoch = kwargs.get("last_epoch", -1)
    for step in record["undefined_steps"]:
        count = step - last_epoch - 1
        # Every zero-width phase here is the warm-up ending at step 0.
        assert step == 0
        np.testing.assert_allclose(sched(count), kwargs["max_lr"], rtol=1e-7)
        np.testing.assert_allclose(
            sched.momentum(count), kwargs.get("base_momentum", 0.85), rtol=1e-7
        )
    if record["lr"]:
        assert (
            _relative(_ours(record, "lr").astype(np.float64), _golden(record, "lr"))
            <= F32_RTOL
        )


@pytest.mark.parametrize("record", GOLDEN, ids=lambda r: r["name"])
def test_past_the_end_holds_the_final_values(record):
    """Counts at or past the cycle's end hold min_lr and the final momentum."""
    kwargs = record["kwargs"]
    sched = oc.onecycle(**kwargs)
    end = oc.onecycle(**{**kwargs, "last_epoch": -1}).total_steps
    end -= kwargs.get("last_epoch", -1) + 1
    later = jnp.asarray([end, end + 1, end + 1000, 2**31 - 1], jnp.int32)
    for what in ("lr", "momentum"):
        final = boundaries(kwargs, what)[0][-1]
        values = np.asarray(getattr(sched, what)(later), np.float64).reshape(4, -1)
        np.testing.assert_allclose(
            values, np.broadcast_to(final, values.shape), rtol=1e-7
        )
