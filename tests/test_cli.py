"""The command line: every subcommand, its files and its bad-argument errors."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

import onecycle_jax as oc
from onecycle_jax.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(path, min_width=500, min_height=300):
    with open(path, "rb") as file:
        assert file.read(8) == PNG_MAGIC
    assert os.path.getsize(path) > 10_000
    import matplotlib.image

    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert width >= min_width and height >= min_height
    assert image.shape[2] in (3, 4)
    # Not blank: a figure with curves has many distinct colours.
    assert len(np.unique(image.reshape(-1, image.shape[2]), axis=0)) > 50
    return image


def one_error_line(capsys):
    out, err = capsys.readouterr()
    assert out == ""  # the error comes before any work is done
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("onecycle-jax")
    return lines[0]


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--max-lr", "0.5", "--total-steps", "37", "--pct-start", "0.25"],
        ["--three-phase", "--anneal-strategy", "linear", "--total-steps", "50"],
        ["--epochs", "4", "--steps-per-epoch", "25", "--no-cycle-momentum"],
        ["--total-steps", "100", "--last-epoch", "19", "--div-factor", "10"],
    ],
)
def test_table_values_match_onecycle(capsys, options):
    assert main(["table", *options]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["step", "lr", "momentum"]
    rows = [line.rsplit(None, 3) for line in lines[1:]]
    names = [row[0] for row in rows]
    steps = np.array([int(row[1]) for row in rows])
    lr = np.array([float(row[2]) for row in rows])
    momentum = np.array([float(row[3]) for row in rows])

    args = _parse(options)
    sched = oc.onecycle(**args)
    assert names[0] == "start" and names[-1] == "last"
    total = args.get("total_steps") or args["epochs"] * args["steps_per_epoch"]
    pct = args.get("pct_start", 0.3)
    ends = [pct * total - 1, 2 * pct * total - 2][: 2 if args.get("three_phase") else 1]
    offset = args.get("last_epoch", -1) + 1
    kept = [np.floor(end - offset) for end in ends if end >= offset]
    np.testing.assert_array_equal(steps[1:-1], kept)
    np.testing.assert_allclose(lr, np.asarray(sched.lr(steps)), rtol=1e-5)
    np.testing.assert_allclose(momentum, np.asarray(sched.momentum(steps)), rtol=1e-5)
    assert steps[0] == 0 and steps[-1] == total - offset - 1
    assert np.all(lr <= args["max_lr"])
    if offset == 0 and ends[0] == int(ends[0]):  # the peak falls on a step
        peak = names.index("peak")
        np.testing.assert_allclose(lr[peak], args["max_lr"], rtol=1e-5)


def _parse(options):
    args = {"max_lr": 0.1}
    flags = {"--three-phase": ("three_phase", True)}
    flags["--no-cycle-momentum"] = ("cycle_momentum", False)
    i = 0
    while i < len(options):
        name = options[i].lstrip("-").replace("-", "_")
        if options[i] in flags:
            key, value = flags[options[i]]
            args[key] = value
            i += 1
            continue
        text = options[i + 1]
        args[name] = text if name == "anneal_strategy" else float(text)
        if name in ("total_steps", "epochs", "steps_per_epoch", "last_epoch"):
            args[name] = int(text)
        i += 2
    if "epochs" not in args:
        args.setdefault("total_steps", 1000)
    return args


def test_table_csv_has_every_step(tmp_path, capsys):
    path = tmp_path / "steps.csv"
    main(["table", "--max-lr", "2", "--total-steps", "257", "--csv", str(path)])
    assert f"wrote 257 steps to {path}" in capsys.readouterr().out
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["step", "lr", "momentum"]
    table = np.array(rows[1:], dtype=np.float64)
    sched = oc.onecycle(2.0, 257)
    np.testing.assert_array_equal(table[:, 0], np.arange(257))
    # The CSV keeps every digit: the values read back are the schedule's.
    expected = np.asarray(sched.lr(np.arange(257)))
    np.testing.assert_array_equal(table[:, 1].astype(expected.dtype), expected)
    expected = np.asarray(sched.momentum(np.arange(257)))
    np.testing.assert_array_equal(table[:, 2].astype(expected.dtype), expected)


def test_plot_writes_a_png(tmp_path, capsys):
    path = tmp_path / "schedule.png"
    options = ["--three-phase", "--log", "--total-steps", "300", "--out", str(path)]
    assert main(["plot", *options]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    height, width = check_png(path).shape[:2]
    assert 1.0 < width / height < 2.0  # two stacked panels


@pytest.mark.torch
def test_plot_compares_with_torch_and_optax(tmp_path, capsys):
    pytest.importorskip("torch")
    path = tmp_path / "compare.png"
    assert main(["plot", "--compare", "torch", "optax", "--out", str(path)]) == 0
    assert capsys.readouterr().err == ""
    height, width = check_png(path).shape[:2]
    assert height > 0.9 * width  # three stacked panels


def test_plot_without_torch_says_so_and_still_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    path = tmp_path / "compare.png"
    assert main(["plot", "--compare", "torch", "optax", "--out", str(path)]) == 0
    err = capsys.readouterr().err
    assert "torch is not installed" in err and "Traceback" not in err
    check_png(path)


def test_plot_compare_reference_values():
    from onecycle_jax import plot

    sched = oc.onecycle(0.1, total_steps=100)
    lr, momentum = plot.reference(sched, "optax")
    ours = np.asarray(sched.lr(np.arange(100)))
    # optax's cycle runs one step behind: its peak is at step 30, ours at 29.
    assert int(np.argmax(lr)) == 30 and int(np.argmax(ours)) == 29
    assert momentum is None
    if _has_torch():
        lr, momentum = plot.reference(sched, "torch")
        np.testing.assert_allclose(lr, ours, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(
            momentum, np.asarray(sched.momentum(np.arange(100))), rtol=1e-6
        )


def _has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_demo_small_run(tmp_path, capsys):
    path = tmp_path / "demo.png"
    args = ["demo", "--steps", "20", "--seed", "3", "--out", str(path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("digits MLP, 20 steps of 32 images, seed 3")
    accuracies = re.findall(r"(\d+\.\d\d)%", out)
    assert len(accuracies) >= 4 + 2  # four runs in the table, two in the summary
    assert all(0 < float(a) <= 100 for a in accuracies)
    assert "one cycle, max_lr=0.2" in out and "constant lr=0.02," in out
    assert "constant lr=0.0667," in out and "constant lr=0.2," in out
    assert lines[-1] == f"wrote {path}"
    check_png(path, min_width=1000)

    # Deterministic for a seed: the same command prints the same figures.
    assert main(args) == 0
    assert capsys.readouterr().out == out


def test_demo_options_reach_the_schedule(capsys, tmp_path):
    from onecycle_jax import _demo

    result = _demo.run(
        steps=20, max_lr=0.2, seed=1, three_phase=True, anneal_strategy="linear"
    )
    assert result.sched.three_phase and result.sched.anneal_strategy == "linear"
    assert [r.lr for r in result.constants] == pytest.approx([0.02, 0.2 / 3, 0.2])
    assert result.one_cycle.losses.shape == (20,)
    np.testing.assert_array_equal(result.one_cycle.eval_steps, [10, 20])
    assert np.all(np.isfinite(result.one_cycle.losses))


def test_run_held_from_and_first_at():
    from onecycle_jax._demo import Run

    run = Run(
        "x",
        0.1,
        np.zeros(50),
        np.arange(10, 51, 10),
        np.array([0.5, 0.9, 0.7, 0.95, 0.96]),
    )
    assert run.first_at(0.9) == 20 and run.held_from(0.9) == 40
    assert run.first_at(0.99) is None and run.held_from(0.99) is None
    assert run.held_from(0.1) == 10


def test_find_lr(tmp_path, capsys):
    path = tmp_path / "find_lr.png"
    assert main(["find-lr", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    for method in ("steepest", "valley", "minimum"):
        match = re.search(rf"^  {method} +(\S+)$", out, re.MULTILINE)
        assert match and 1e-5 < float(match.group(1)) < 10
    check_png(path)


def test_demo_max_lr_auto(tmp_path, capsys):
    path = tmp_path / "demo.png"
    assert main(["find-lr", "--out", str(tmp_path / "find_lr.png")]) == 0
    valley = re.search(r"^  valley +(\S+)$", capsys.readouterr().out, re.MULTILINE)
    assert main(["demo", "--max-lr", "auto", "--steps", "20", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    suggested = float(re.search(r"suggests (\S+)", out).group(1))
    # auto is the median valley of the same sweeps find-lr reports.
    assert f"{suggested:.4g}" == valley.group(1)
    assert f"one cycle, max_lr={suggested:.3g}" in out


def _script():
    return os.path.join(sysconfig.get_path("scripts"), "onecycle-jax")


def test_console_script_and_module():
    table = subprocess.run(
        [_script(), "table", "--max-lr", "1", "--total-steps", "10"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert table.stdout.splitlines()[2].split() == ["peak", "2", "1", "0.85"]
    bad = subprocess.run(
        [sys.executable, "-m", "onecycle_jax", "plot", "--pct-start", "1.5"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "onecycle-jax plot: error: pct_start must be in [0, 1], got 1.5"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["table", "--total-steps", "-5"], "total_steps must be a positive integer"),
        (["plot", "--total-steps", "0"], "total_steps must be a positive integer"),
        (["table", "--total-steps", "2.5"], "--total-steps: invalid int value"),
        (["table", "--pct-start", "1.5"], "pct_start must be in [0, 1], got 1.5"),
        (["table", "--three-phase", "--pct-start", "0.6"], "three_phase=True"),
        (["plot", "--anneal-strategy", "step"], "invalid choice: 'step'"),
        (["table", "--max-lr", "-1"], "max_lr must be positive"),
        (["table", "--max-lr", "nan"], "max_lr must be positive"),
        (["table", "--div-factor", "0"], "div_factor must be positive"),
        (["table", "--base-momentum", "1.2"], "base_momentum must be in [0, 1]"),
        (["table", "--epochs", "3"], "steps_per_epoch is missing"),
        (["table", "--total-steps", "10", "--last-epoch", "9"], "leaves no step"),
        (["plot", "--total-steps", "10", "--last-epoch", "9"], "leaves no step"),
        (
            ["plot", "--epochs", "2", "--steps-per-epoch", "3", "--last-epoch", "7"],
            "--last-epoch 7 leaves no step",
        ),
        (["table", "--max-lr", "1e308"], "max_lr"),
        (["plot", "--max-lr", "1e308"], "max_lr"),
        (["table", "--last-epoch", "-2"], "last_epoch must be an integer >= -1"),
        (["plot", "--out", "/no/such/folder/s.png"], "does not exist"),
        (["plot", "--out", "schedule.txt"], "unknown image type 'txt'"),
        (["plot", "--out", "."], "is a directory"),
        (["plot", "--compare", "optax", "--three-phase"], "two-phase cosine"),
        (["plot", "--compare", "keras"], "invalid choice: 'keras'"),
        (["table", "--csv", "/no/such/folder/s.csv"], "does not exist"),
        (["table", "--csv", ""], "--csv must be a file name, got ''"),
        (["table", "--csv", "/proc/version"], "--csv '/proc/version' is not writable"),
        (["plot", "--out", ""], "--out must be a file name"),
        (["demo", "--out", "/proc/version.png"], "is not writable"),
        (["find-lr", "--out", "/proc/f.png"], "is not writable"),
        (["demo", "--seed", "99999999999999999999"], "--seed: must be an integer"),
        (["demo", "--seed", "-1"], "in [0, 2**32), got '-1'"),
        (["find-lr", "--seed", str(2**32)], "--seed: must be an integer in [0, 2**32)"),
        (["find-lr", "--seed", "1.5"], "--seed: must be an integer"),
        (
            ["plot", "--compare", "torch", "optax", "--total-steps", "1000001"],
            "--compare torch steps PyTorch's scheduler once per step, so it takes "
            "total_steps up to 1000000, got 1000001",
        ),
        (["demo", "--steps", "-3"], "--steps: must be a positive integer, got -3"),
        (["demo", "--steps", "0"], "--steps: must be a positive integer, got 0"),
        (["demo", "--max-lr", "fast"], "must be a number or 'auto'"),
        (["demo", "--max-lr", "-0.1"], "max_lr must be positive"),
        (["demo", "--pct-start", "1.5"], "pct_start must be in [0, 1]"),
        (["demo", "--target", "2"], "--target must be in (0, 1]"),
        (["demo", "--batch-size", "5000"], "--batch-size must be at most 1438"),
        (["demo", "--out", "/no/such/folder/d.png"], "does not exist"),
        (["find-lr", "--out", "/no/such/folder/f.png"], "does not exist"),
        (["fly"], "invalid choice: 'fly'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    line = one_error_line(capsys)
    assert message in line
    assert ": error: " in line


def test_unwritable_out_file(capsys):
    # /proc takes no new files, not even from root, whom os.access lets
    # through: the error then comes from the save itself.
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", "--out", "/proc/schedule.png"])
    assert exit_info.value.code == 2
    line = one_error_line(capsys)
    assert re.search(r"'/proc/schedule.png' is not writable|could not write", line)


def test_table_csv_row_limit(tmp_path, capsys):
    path = tmp_path / "big.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["table", "--total-steps", "10000001", "--csv", str(path)])
    assert exit_info.value.code == 2
    line = one_error_line(capsys)
    assert "--csv" in line and "total_steps=10000001" in line
    assert "at most 10000000" in line
    assert not path.exists()


def _limit_evaluations(monkeypatch, limit):
    # Fails a call to lr or momentum on more than `limit` counts before it
    # runs, so a regression fails fast instead of filling the memory.
    sizes = []
    for name in ("lr", "momentum"):
        method = getattr(oc.OneCycle, name)

        def spy(self, count, method=method):
            sizes.append(np.size(count))
            assert sizes[-1] <= limit
            return method(self, count)

        monkeypatch.setattr(oc.OneCycle, name, spy)
    return sizes


def test_table_evaluates_only_its_rows(monkeypatch, capsys):
    sizes = _limit_evaluations(monkeypatch, 4)
    assert main(["table", "--total-steps", "10000000", "--three-phase"]) == 0
    assert sizes == [4, 4]
    capsys.readouterr()
    # The largest count optax's int32 counter reaches.
    assert main(["table", "--total-steps", str(2**31 - 1)]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[-1].split()[:2] == ["last", str(2**31 - 2)]


def test_plot_samples_a_long_schedule():
    from onecycle_jax import plot

    # total_steps=10**6 + 1 puts the peak between two steps.
    sched = oc.onecycle(1.0, total_steps=10**6 + 1, last_epoch=10)
    fig = plot.schedule(sched, compare=["optax"])
    steps = fig.axes[0].lines[0].get_xdata()
    assert plot.MAX_POINTS <= len(steps) <= plot.MAX_POINTS + 4
    assert np.all(np.diff(steps) > 0) and np.all(steps == np.round(steps))
    peak = 0.3 * (10**6 + 1) - 1 - 11
    last = 10**6 + 1 - 11 - 1
    assert {0, int(np.floor(peak)), int(np.ceil(peak)), last} <= set(steps)
    for line, values in [(0, sched.lr(steps)), (1, sched.momentum(steps))]:
        np.testing.assert_array_equal(fig.axes[line].lines[0].get_ydata(), values)
    # The optax overlay and its difference share the sampled steps.
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_xdata(), steps)
    np.testing.assert_array_equal(fig.axes[2].lines[0].get_xdata(), steps)
    # A short schedule is drawn at every step.
    fig = plot.schedule(oc.onecycle(1.0, total_steps=plot.MAX_POINTS))
    xdata = fig.axes[0].lines[0].get_xdata()
    np.testing.assert_array_equal(xdata, np.arange(plot.MAX_POINTS))


def test_plot_command_is_bounded(monkeypatch, tmp_path, capsys):
    from onecycle_jax import plot

    sizes = _limit_evaluations(monkeypatch, plot.MAX_POINTS + 4)
    path = tmp_path / "long.png"
    assert main(["plot", "--total-steps", "100000000", "--out", str(path)]) == 0
    assert len(sizes) == 2 and min(sizes) >= plot.MAX_POINTS
    assert capsys.readouterr().out.strip() == f"wrote {path}"


@pytest.mark.torch
@pytest.mark.parametrize("steps, pct", [("10", "0.1"), ("1", "1")])
def test_plot_skips_torch_where_it_divides_by_zero(tmp_path, capsys, steps, pct):
    pytest.importorskip("torch")
    path = tmp_path / "compare.png"
    options = ["--total-steps", steps, "--pct-start", pct, "--out", str(path)]
    assert main(["plot", "--compare", "torch", "optax", *options]) == 0
    err = capsys.readouterr().err
    assert "OneCycleLR divides by zero" in err and "not overlaid" in err
    assert len(err.strip().splitlines()) == 1
    height, width = check_png(path).shape[:2]
    assert height > 0.9 * width  # the optax overlay is still drawn
