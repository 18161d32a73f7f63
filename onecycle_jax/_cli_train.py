"""The training commands: ``onecycle-jax demo`` and ``onecycle-jax find-lr``.

Both train the digits MLP of :mod:`onecycle_jax._demo`; this module parses
nothing itself (``onecycle_jax.cli`` does) and prints their reports.
"""

from __future__ import annotations

import argparse
from typing import Any

import jax
import numpy as np

import onecycle_jax as oc
from onecycle_jax import _demo, digits
from onecycle_jax.cli import _SCHEDULE_OPTIONS, _image, _save

# Starts above the library's default (1e-7): on this model the loss is flat
# up to about 1e-3, so the 100 steps are better spent from 1e-4 on.
_RANGE_TEST = {"start_lr": 1e-4, "end_lr": 10.0, "num_steps": 100}
# One sweep's suggestion moves with the data order (about 2x on this model):
# the commands take the median over this many orders, swept side by side.
_ORDERS = 8
# Over 32 seeds the median valley (0.31) trained as well as the demo's
# tuned default within seed noise, steepest and minimum a little worse.
_AUTO = "valley"


def _range_test(seed: int) -> Any:
    """Sweeps of plain SGD over ``_ORDERS`` data orders, vmapped."""
    steps = _RANGE_TEST["num_steps"]
    data, params, indices = _demo.setup(seed, _demo.DEFAULTS["batch_size"], steps)
    batches = (data.x_train[indices], data.y_train[indices])
    keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 2), _ORDERS)

    def sweep(key: Any) -> Any:
        return oc.lr_range_test(_batch_loss, params, batches, key=key, **_RANGE_TEST)

    return jax.block_until_ready(jax.vmap(sweep)(keys))


def _median(result: Any, method: str) -> float:
    return float(np.median(np.asarray(result.suggestion(method))))


def _batch_loss(params: Any, batch: Any) -> Any:
    return digits.loss(params, *batch)


def find_lr(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``onecycle-jax find-lr``: prints the suggestions and writes the plot."""
    _image(parser, args.out)
    result = _range_test(args.seed)
    diverged = int(np.sum(np.asarray(result.diverged)))
    print(
        f"LR range test on the digits MLP: plain SGD, {_RANGE_TEST['num_steps']} "
        f"steps, lr {_RANGE_TEST['start_lr']:g} to {_RANGE_TEST['end_lr']:g}, "
        f"{_ORDERS} data orders ({diverged} diverged); median suggestions:"
    )
    for method in ("steepest", "valley", "minimum"):
        print(f"  {method:<9} {_median(result, method):.4g}")
    print(f"demo --max-lr auto uses '{_AUTO}'")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    first = jax.tree.map(lambda leaf: leaf[0], result)
    ax = first.plot(fig.add_subplot())
    ax.set_title("LR range test, digits MLP, plain SGD (first data order)")
    _save(parser, fig, args.out)
    return 0


def demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``onecycle-jax demo``: trains, prints the comparison, writes the figure."""
    _image(parser, args.out)
    kwargs = {name: getattr(args, name) for name in _SCHEDULE_OPTIONS}
    if not 0 < args.target <= 1:
        parser.error(f"--target must be in (0, 1], got {args.target}")
    images = digits.load().x_train.shape[0]
    if args.batch_size > images:
        parser.error(
            f"--batch-size must be at most {images}, the number of training "
            f"images, got {args.batch_size}"
        )
    if args.max_lr == "auto":
        args.max_lr = _median(_range_test(args.seed), _AUTO)
        print(f"--max-lr auto: the LR range test suggests {args.max_lr:.4g}")
    try:
        oc.onecycle(args.max_lr, args.steps, **kwargs)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    from tqdm.auto import tqdm

    runs = 1 + len(_demo.DEFAULTS["constant_fractions"])
    with tqdm(total=args.steps * runs, desc="training", unit="step") as bar:
        result = _demo.run(
            steps=args.steps,
            max_lr=args.max_lr,
            seed=args.seed,
            batch_size=args.batch_size,
            target=args.target,
            progress=bar.update,
            **kwargs,
        )
    _report(result, args)
    _save(parser, _demo.figure(result), args.out)
    return 0


def _report(result: _demo.Result, args: argparse.Namespace) -> None:
    target = result.target
    print(
        f"digits MLP, {args.steps} steps of {args.batch_size} images, seed "
        f"{args.seed}; test accuracy every {_demo.DEFAULTS['eval_every']} steps, "
        f"target {target:.1%}"
    )
    head = ("run", "final test acc", "first >= target", "held from step")
    rows = [
        (
            r.label,
            f"{r.final_accuracy:.2%}",
            _step(r.first_at(target)),
            _step(r.held_from(target)),
        )
        for r in (result.one_cycle, *result.constants)
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(4)]
    for row in [head, *rows]:
        cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    one, best = result.one_cycle, result.best_constant
    print(f"one cycle: {one.final_accuracy:.2%} test accuracy, {_held(one, target)}")
    print(
        f"best constant rate (lr={best.lr:.3g}): {best.final_accuracy:.2%}, "
        f"{_held(best, target)}"
    )


def _held(run: _demo.Run, target: float) -> str:
    step = run.held_from(target)
    if step is None:
        return f"not at or above {target:.1%} to the end"
    return f"at or above {target:.1%} from step {step} on"


def _step(step: int | None) -> str:
    return "never" if step is None else str(step)
