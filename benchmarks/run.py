"""Runs the benchmarks and prints a Markdown report.

    python benchmarks/run.py --quick                 # CI smoke run, under 2 min
    python benchmarks/run.py --out BENCHMARKS.md     # the full run, under 8 min

Each section measures its contestants side by side in this one process and
reports ratios; progress goes to stderr, the report to stdout (and ``--out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the ``benchmarks`` package importable.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks import (
    accuracy,
    compiled,
    machine,
    report,
    sweep_figures,
    throughput,
    train_step,
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each section measures."""

    throughput_sizes: tuple[int, ...]
    torch_prefix: int
    throughput_repeats: int
    train_steps: int
    train_batch: int
    train_repeats: int
    compile_repeats: int
    accuracy_sizes: tuple[int, ...]
    replica_checks: tuple[int, ...]


DECADES = tuple(10**k for k in range(3, 8))
FULL = Sizes(DECADES, 100_000, 21, 1_000, 64, 101, 9, DECADES, (1_000, 10_000, 100_000))
QUICK = Sizes(DECADES[:4], 10_000, 5, 300, 64, 41, 5, DECADES[:4], (1_000, 10_000))


def _timed(name: str, work: Callable[[], Any]) -> Any:
    print(f"{name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = work()
    print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return result


def _summary(
    rows: list[dict], step: dict, sizes: dict, errors: dict, sweep: dict | None
) -> str:
    biggest = rows[-1]
    worst = max(max(r["ours_lr"], r["ours_momentum"]) for r in errors["rows"])
    textbook = max(r["textbook_lr"] for r in errors["rows"])
    optax = max(r["optax_lr"] for r in errors["rows"])
    ours_c, optax_c = sizes["ours lr"], sizes["optax lr"]
    lines = [
        "| measure | figure |",
        "|---|---:|",
        f"| whole schedule, N = {biggest['n']:,}: ours / optax throughput "
        f"| {biggest['vs_optax']:.1f}x |",
        f"| whole schedule, N = {biggest['n']:,}: ours / PyTorch loop "
        f"(lr + momentum) | {biggest['vs_torch']:,.0f}x |",
        f"| train step (digits MLP, scan): ours / constant-rate `optax.sgd` "
        f"| {step['vs_constant']['ours']:.3f} (target <= {train_step.TARGET}: "
        f"{report.met(step['vs_constant']['ours'] <= train_step.TARGET)}) |",
        f"| train step: optax onecycle / constant-rate `optax.sgd` "
        f"| {step['vs_constant']['optax']:.3f} |",
        f"| compile, lr schedule: ours / optax | {ours_c['vs_optax']:.2f}x |",
        f"| jaxpr equations (nested ones included), lr: ours / optax "
        f"| {ours_c['eqns_nested']} / {optax_c['eqns_nested']} |",
        f"| float32 max relative error vs PyTorch float64, ours (lr, momentum) "
        f"| {worst:.1e} (target <= {accuracy.TARGET:.0e}: "
        f"{report.met(worst <= accuracy.TARGET)}) |",
        f"| same, textbook formula in float32 | {textbook:.1e} |",
        f"| same, optax onecycle (vs its own float64) | {optax:.1e} |",
    ]
    if sweep is not None:
        lines += sweep_figures.summary_rows(sweep)
    return "\n".join(lines)


def build(
    sizes: Sizes, quick: bool, argv: list[str], sweep_options: dict[str, Any]
) -> tuple[str, bool]:
    """Runs every section.

    Returns:
      The whole report, and whether every section ran (the sweep may fail).
    """
    start = time.perf_counter()
    description = machine.describe()
    rows = _timed(
        "1. whole schedule",
        lambda: throughput.measure(
            sizes.throughput_sizes, sizes.torch_prefix, sizes.throughput_repeats
        ),
    )
    step = _timed(
        "2. train step",
        lambda: train_step.measure(
            sizes.train_steps, sizes.train_batch, sizes.train_repeats
        ),
    )
    compile_sizes = _timed(
        "3. compile", lambda: compiled.measure(1_000, sizes.compile_repeats)
    )
    errors = _timed(
        "4. accuracy",
        lambda: accuracy.measure(sizes.accuracy_sizes, sizes.replica_checks),
    )
    sweep = _timed("5. sweep", lambda: sweep_figures.measure(quick, **sweep_options))
    mode = "quick (CI smoke run)" if quick else "full"
    elapsed = time.perf_counter() - start
    sections = [
        "# Benchmarks",
        f"Mode: {mode}; command `python benchmarks/run.py {' '.join(argv)}`; "
        f"took {elapsed:.0f} s; load average at the end {machine.load()}. "
        "A load average above the core count means other work shared the "
        "CPUs: every figure below is a ratio of contestants measured side by "
        "side, so it suffers less than an absolute time, but still suffers.",
        "## Machine",
        machine.markdown(description),
        "## Summary",
        _summary(rows, step, compile_sizes, errors, sweep),
        "## 1. Evaluating a whole schedule",
        throughput.markdown(rows),
        "## 2. Overhead inside a train step",
        train_step.markdown(step),
        "## 3. Compile time and size of the compiled schedule",
        compiled.markdown(compile_sizes, sizes.compile_repeats),
        "## 4. Accuracy in float32",
        accuracy.markdown(errors),
        "## 5. Hyperparameter sweep in one program",
        sweep_figures.markdown(sweep),
    ]
    ran = not isinstance(sweep, sweep_figures.Failed)
    return "\n\n".join(sections) + "\n", ran


def main(argv: list[str] | None = None) -> int:
    """The command line: parse, run, print, and write ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for CI (under 2 minutes)"
    )
    parser.add_argument(
        "--out", type=pathlib.Path, help="also write the report to this file"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="PyTorch's threads in the sweep (default: the sweep's own choice, "
        "the cores); 1 is fairer on a machine others are using",
    )
    args = parser.parse_args(argv)
    if args.out is not None and not args.out.parent.is_dir():
        parser.error(f"--out: no directory {str(args.out.parent)!r} to write into")
    argv = sys.argv[1:] if argv is None else argv
    if args.torch_threads is not None and args.torch_threads < 1:
        parser.error(f"--torch-threads must be at least 1, got {args.torch_threads}")
    options = (
        {} if args.torch_threads is None else {"torch_threads": args.torch_threads}
    )
    text, ran = build(QUICK if args.quick else FULL, args.quick, argv, options)
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    if not ran:
        print("the sweep benchmark failed: see section 5", file=sys.stderr)
    return 0 if ran else 1


if __name__ == "__main__":
    sys.exit(main())
