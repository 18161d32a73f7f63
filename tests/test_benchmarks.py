"""The benchmark harness returns well-formed figures (not how fast anything is).

Each section runs once at a tiny size; the full benchmark runs separately
(``python benchmarks/run.py --quick`` in CI).
"""

from __future__ import annotations

import doctest
import math

import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import (
    accuracy,
    compiled,
    run,
    sweep_figures,
    throughput,
    timing,
    torch_replica,
    train_step,
)
from onecycle_jax import digits


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_paired_ratio_is_the_median_of_ratios_within_rounds():
    # Medians of each side would give 4 / 2 = 2; the paired ratios are 1, 3, 3.
    assert timing.paired_ratio([1.0, 6.0, 4.0], [1.0, 2.0, 4 / 3]) == 3.0


def test_rounds_rotate_the_order_of_contestants():
    seen = []
    samples = {name: (lambda name=name: seen.append(name) or 1.0) for name in "abc"}
    times = timing.rounds(samples, repeats=3)
    assert seen == list("abcbcacab")
    assert times == {name: [1.0, 1.0, 1.0] for name in "abc"}


def test_hlo_instructions_counts_defining_lines_only():
    text = (
        "HloModule jit_f, entry_computation_layout={(s32[])->f32[]}\n\n"
        "ENTRY %main (p: s32[]) -> f32[] {\n"
        "  %p = s32[] parameter(0)\n"
        "  ROOT %c = f32[] convert(%p)\n"
        "}\n"
    )
    assert timing.hlo_instructions(text) == 2


@pytest.mark.torch
def test_throughput_rows_are_well_formed():
    pytest.importorskip("torch")
    (row,) = throughput.measure([1_000], torch_prefix=200, repeats=2, target_s=1e-3)
    assert row["n"] == 1_000 and row["torch_steps"] == 200
    for name in ("ours", "ours_both", "optax", "torch", "vs_optax", "vs_torch"):
        assert _positive(row[name]), (name, row[name])
    assert "| 1,000 |" in throughput.markdown([row])


def test_train_step_ratios_are_well_formed():
    # Random stand-ins for the digits, which take seconds to import and load.
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(size=(64, 64)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, 64), jnp.int32)
    data = digits.Data(x, y, x, y)
    figures = train_step.measure(
        steps=20, batch_size=16, repeats=3, names=("constant", "ours"), data=data
    )
    assert set(figures["seconds"]) == {"constant", "ours"}
    assert all(_positive(t) for t in figures["seconds"].values())
    assert all(_positive(r) for r in figures["vs_constant"].values())
    assert figures["vs_constant"]["constant"] == 1.0
    assert "Target met" in train_step.markdown(figures) or "Falls short" in (
        train_step.markdown(figures)
    )


def test_compiled_sizes_are_counted():
    figures = compiled.measure(total_steps=100, repeats=1)
    assert set(figures) == {"ours lr", "ours momentum", "optax lr"}
    for row in figures.values():
        assert _positive(row["lower_s"]) and _positive(row["compile_s"])
        assert 0 < row["eqns"] <= row["eqns_nested"]
        assert row["hlo_ops"] > 0 and _positive(row["vs_optax"])
    assert figures["optax lr"]["vs_optax"] == 1.0


@pytest.mark.torch
def test_replica_matches_torch_and_ours_beats_the_textbook():
    pytest.importorskip("torch")
    assert accuracy.replica_against_torch(300) <= 1e-15
    found = accuracy.errors(1_000)
    assert found["ours_lr"] <= accuracy.TARGET
    assert found["ours_momentum"] <= accuracy.TARGET
    # The textbook formula loses precision near the end of the cycle.
    assert found["textbook_lr"] > 10 * found["ours_lr"]
    assert all(_positive(value) for value in found.values())


def test_replica_doctest_passes():
    # benchmarks/ lies outside the doctest paths of the test suite.
    assert doctest.testmod(torch_replica).failed == 0


def test_replica_peaks_where_torch_does():
    lr, momentum = torch_replica.values(np.arange(100), 100, 1.0, 0.3, 25.0, 1e4)
    assert int(np.argmax(lr)) == 29 and lr[29] == 1.0
    assert momentum[29] == pytest.approx(0.85, abs=1e-15)
    assert lr[-1] == pytest.approx(1.0 / 25.0 / 1e4, rel=1e-12)


def test_sweep_section_reports_a_missing_short_or_failed_sweep():
    assert "Not available" in sweep_figures.markdown(None)
    failed = sweep_figures.markdown(sweep_figures.Failed(error="ValueError: x"))
    assert "failed" in failed and "ValueError: x" in failed
    short = sweep_figures.markdown({"speedup_vs_sequential_jax": 4.0})
    assert "Falls short of target" in short and "4.0x" in short
    rows = sweep_figures.summary_rows(
        {"speedup_vs_sequential_jax": 12.0, "speedup_vs_pytorch": 30.0}
    )
    assert rows == [
        "| sweep of 64 trainings: vmapped / sequential JAX "
        "| 12.0x (target >= 10x: met) |",
        "| sweep of 64 trainings: vmapped / PyTorch loop | 30.0x |",
    ]


def test_run_rejects_an_out_file_in_a_missing_directory(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        run.main(["--quick", "--out", str(tmp_path / "missing" / "report.md")])
    assert raised.value.code == 2
    assert "--out" in capsys.readouterr().err
