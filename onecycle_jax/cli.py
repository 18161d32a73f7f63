"""The ``onecycle-jax`` command line: plot, tabulate, demo and find-lr.

``onecycle-jax plot`` and ``onecycle-jax table`` show a schedule before any
training; ``onecycle-jax demo`` trains the digits MLP with one cycle and with
constant learning rates; ``onecycle-jax find-lr`` runs a learning-rate range
test on the same model. Bad arguments end with exit status 2 and one line on
stderr.
"""

from __future__ import annotations

import argparse
import csv
import os
import stat
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import onecycle_jax as oc
from onecycle_jax import _demo

_SCHEDULE_OPTIONS = (
    "pct_start",
    "anneal_strategy",
    "three_phase",
    "cycle_momentum",
    "base_momentum",
    "max_momentum",
    "div_factor",
    "final_div_factor",
)


# A CSV row per step: ten million rows is about 400 MB of text.
CSV_MAX_ROWS = 10_000_000
# PyTorch's scheduler is stepped once per step, in Python.
TORCH_MAX_STEPS = 1_000_000


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, without the usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    # jax.random.key takes a 32-bit seed; a larger one overflows deep inside.
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, 2**32), got {text!r}"
        )
    return value


def _lr_or_auto(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number or 'auto', got {text!r}"
        ) from None


def _schedule_options(parser: argparse.ArgumentParser, *, demo: bool) -> None:
    group = parser.add_argument_group("one-cycle options (as oc.onecycle)")
    if not demo:
        group.add_argument("--max-lr", type=float, default=0.1, help="default 0.1")
        group.add_argument(
            "--total-steps",
            type=int,
            help="default 1000, unless --epochs and --steps-per-epoch are given",
        )
        group.add_argument("--epochs", type=int)
        group.add_argument("--steps-per-epoch", type=int)
        group.add_argument("--last-epoch", type=int, default=-1)
    group.add_argument("--pct-start", type=float, default=0.3)
    group.add_argument("--anneal-strategy", choices=("cos", "linear"), default="cos")
    group.add_argument("--three-phase", action="store_true")
    group.add_argument(
        "--no-cycle-momentum", dest="cycle_momentum", action="store_false"
    )
    group.add_argument("--base-momentum", type=float, default=0.85)
    group.add_argument("--max-momentum", type=float, default=0.95)
    group.add_argument("--div-factor", type=float, default=25.0)
    group.add_argument("--final-div-factor", type=float, default=1e4)


def _output(parser: argparse.ArgumentParser, path: str, what: str) -> None:
    # Fail before any work is done, not after a minute of training.
    if not path:
        parser.error(f"{what} must be a file name, got ''")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        parser.error(f"{what} {path!r} is a directory; give a file name")
    if not os.path.isdir(folder):
        parser.error(f"{what} {path!r}: folder {folder!r} does not exist")
    if os.path.exists(path):
        # Root passes os.access even for a read-only file such as
        # /proc/version, so the mode bits are asked too.
        mode = os.stat(path).st_mode
        if not (os.access(path, os.W_OK) and mode & 0o222):
            parser.error(f"{what} {path!r} is not writable")
        if stat.S_ISREG(mode) or stat.S_ISCHR(mode):
            return
        parser.error(f"{what} {path!r} is not a regular file")
    try:
        # Only creating a file shows that a folder such as /proc takes none.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        os.remove(path)
    except OSError as error:
        parser.error(f"{what} {path!r} is not writable: {error.strerror or error}")


def _image(parser: argparse.ArgumentParser, path: str) -> None:
    _output(parser, path, "--out")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = FigureCanvasAgg.get_supported_filetypes()
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    if suffix not in formats:
        parser.error(
            f"--out {path!r}: unknown image type {suffix!r}; use one of "
            f"{', '.join(sorted(formats))} (e.g. schedule.png)"
        )


def _schedule(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    kwargs = {name: getattr(args, name) for name in _SCHEDULE_OPTIONS}
    total_steps = args.total_steps
    if total_steps is None and args.epochs is None and args.steps_per_epoch is None:
        total_steps = 1000
    try:
        sched = oc.onecycle(
            args.max_lr,
            total_steps,
            epochs=args.epochs,
            steps_per_epoch=args.steps_per_epoch,
            last_epoch=args.last_epoch,
            **kwargs,
        )
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    from onecycle_jax import plot

    # plot and table refuse the same schedules.
    if plot.num_counts(sched) == 0:
        parser.error(f"--last-epoch {args.last_epoch} leaves no step of the cycle")
    return sched


def _save(parser: argparse.ArgumentParser, fig: Any, path: str) -> None:
    try:
        fig.savefig(path, dpi=110)
    except OSError as error:
        parser.error(f"could not write --out {path!r}: {error.strerror or error}")
    print(f"wrote {path}")


def _plot(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    _image(parser, args.out)
    sched = _schedule(parser, args)
    from onecycle_jax import plot

    compare = list(dict.fromkeys(args.compare or ()))
    if "torch" in compare and int(sched.total_steps) > TORCH_MAX_STEPS:
        parser.error(
            f"--compare torch steps PyTorch's scheduler once per step, so it "
            f"takes total_steps up to {TORCH_MAX_STEPS}, got "
            f"{int(sched.total_steps)}"
        )
    if "torch" in compare:
        try:
            import torch  # noqa: F401
        except ImportError:
            compare.remove("torch")
            print(
                "note: torch is not installed, so PyTorch's OneCycleLR is not "
                "overlaid (pip install 'onecycle-jax[parity]')",
                file=sys.stderr,
            )
    try:
        try:
            fig = plot.schedule(sched, log=args.log, compare=compare)
        except ZeroDivisionError as error:
            compare.remove("torch")
            print(f"note: {error}, so it is not overlaid", file=sys.stderr)
            fig = plot.schedule(sched, log=args.log, compare=compare)
    except ValueError as error:
        parser.error(f"--compare: {error}")
    _save(parser, fig, args.out)
    return 0


def _rows(sched: Any) -> list[tuple[str, int]]:
    from onecycle_jax import plot

    # A phase may end between two steps; its last whole step is shown.
    ends = [(name, int(np.floor(end))) for name, end in plot.named_phase_ends(sched)]
    return [("start", 0), *ends[:-1], ("last", plot.num_counts(sched) - 1)]


def _table(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.csv is not None:
        _output(parser, args.csv, "--csv")
    sched = _schedule(parser, args)
    from onecycle_jax import plot

    rows = plot.num_counts(sched)
    if args.csv is not None and rows > CSV_MAX_ROWS:
        parser.error(
            f"--csv writes one row per step, at most {CSV_MAX_ROWS}; total_steps="
            f"{int(sched.total_steps)} leaves {rows}"
        )
    names, shown = zip(*_rows(sched), strict=True)
    lr = np.asarray(sched.lr(np.array(shown)))
    momentum = np.asarray(sched.momentum(np.array(shown)))
    lines = [("", "step", "lr", "momentum")]
    for name, step, value, beta in zip(names, shown, lr, momentum, strict=True):
        lines.append((name, str(step), f"{value:.6g}", f"{beta:.6g}"))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        name, *numbers = line
        cells = [name.ljust(widths[0])]
        cells += [n.rjust(w) for n, w in zip(numbers, widths[1:], strict=True)]
        print("  ".join(cells).rstrip())
    if args.csv is not None:
        _write_csv(parser, sched, args.csv)
    return 0


def _write_csv(parser: argparse.ArgumentParser, sched: Any, path: str) -> None:
    from onecycle_jax import plot

    steps = plot.counts(sched)
    lr = np.asarray(sched.lr(steps))
    momentum = np.asarray(sched.momentum(steps))
    try:
        with open(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["step", "lr", "momentum"])
            # str() of a NumPy float is the shortest text that reads back
            # as the same value in its own dtype.
            for step, value, beta in zip(steps, lr, momentum, strict=True):
                writer.writerow([int(step), str(value), str(beta)])
    except OSError as error:
        parser.error(f"could not write --csv {path!r}: {error.strerror}")
    print(f"wrote {len(steps)} steps to {path}")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = _Parser(
        prog="onecycle-jax",
        description="One-cycle learning-rate schedules for JAX: look at one, "
        "or watch one train.",
    )
    parser.add_argument("--version", action="version", version=oc.__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plot = commands.add_parser(
        "plot",
        help="plot lr and momentum against the step",
        description="Plot a schedule's learning rate and momentum, phase ends marked.",
    )
    _schedule_options(plot, demo=False)
    plot.add_argument(
        "--out", default="onecycle-schedule.png", help="image file (.png, .svg, ...)"
    )
    plot.add_argument("--log", action="store_true", help="log-scale lr axis")
    plot.add_argument(
        "--compare",
        nargs="+",
        choices=("torch", "optax"),
        help="overlay PyTorch's OneCycleLR and/or optax.cosine_onecycle_schedule",
    )

    table = commands.add_parser(
        "table",
        help="print lr and momentum at the key steps",
        description="Print lr and momentum at the start, each phase end and the "
        "last step.",
    )
    _schedule_options(table, demo=False)
    table.add_argument("--csv", help="also write every step to this CSV file")

    demo = commands.add_parser(
        "demo",
        help="train the digits MLP: one cycle vs constant rates",
        description="Train a small MLP on scikit-learn's digits with one cycle "
        "(oc.sgd) and with constant learning rates, same steps and batches.",
    )
    defaults = _demo.DEFAULTS
    demo.add_argument("--steps", type=_positive_int, default=defaults["steps"])
    demo.add_argument(
        "--max-lr",
        type=_lr_or_auto,
        default=defaults["max_lr"],
        help="a number, or 'auto' for the LR range test's suggestion",
    )
    demo.add_argument("--seed", type=_seed, default=defaults["seed"])
    demo.add_argument(
        "--batch-size", type=_positive_int, default=defaults["batch_size"]
    )
    demo.add_argument(
        "--target",
        type=float,
        default=defaults["target"],
        help="the test accuracy to reach",
    )
    demo.add_argument("--out", default="onecycle-demo.png", help="image file")
    _schedule_options(demo, demo=True)

    find_lr = commands.add_parser(
        "find-lr",
        help="LR range test on the digits MLP",
        description="Run oc.lr_range_test on the demo's model and plot the loss "
        "against the learning rate.",
    )
    find_lr.add_argument("--seed", type=_seed, default=defaults["seed"])
    find_lr.add_argument("--out", default="onecycle-find-lr.png", help="image file")
    return parser, {"plot": plot, "table": table, "demo": demo, "find-lr": find_lr}


def _command(name: str) -> Any:
    if name in ("plot", "table"):
        return {"plot": _plot, "table": _table}[name]
    # The training commands live apart; they import this module's helpers.
    from onecycle_jax import _cli_train

    return {"demo": _cli_train.demo, "find-lr": _cli_train.find_lr}[name]


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status.

    Examples:
      >>> from onecycle_jax.cli import main
      >>> main(["table", "--max-lr", "1", "--total-steps", "10"])
                 step     lr  momentum
      start         0   0.04      0.95
      peak          2      1      0.85
      last          9  4e-06      0.95
      0
    """
    parser, commands = _parser()
    args = parser.parse_args(argv)
    return _command(args.command)(commands[args.command], args)
