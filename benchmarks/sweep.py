"""A one-cycle sweep in one compiled program, against one run at a time.

    python benchmarks/sweep.py                    # 8 x 8 grid, 300 steps, 5 rounds
    python benchmarks/sweep.py --quick            # 100 steps, 3 rounds
    python benchmarks/sweep.py --torch-threads 1  # on a machine others are using

Every contestant trains the same 64 configurations (8 values of ``max_lr``
by 8 of ``pct_start``) of ``onecycle_jax.digits``'s MLP with SGD and a
one-cycle learning rate and momentum, from the same initial parameters on
the same minibatches:

- sweep: ``jax.jit(jax.vmap(train))(oc.grid(...))``, one program for all 64;
- sequential JAX: ``jax.jit(train)`` called once per configuration, compiled
  once and reused (each call is a whole ``lax.scan`` over the steps);
- PyTorch: ``torch.optim.SGD`` with ``OneCycleLR``, one configuration after
  another, with ``torch.set_num_threads`` set to the cores JAX may use
  (``--torch-threads`` overrides it: on a loaded machine PyTorch's thread
  pool waits on busy cores and each step can take many times longer).

The contestants run in interleaved rounds (``benchmarks.timing``); the
figures are medians over rounds, and each ratio is the median of the ratios
within a round. Compilation is left out of every figure. The final test
accuracies of the sweep and of PyTorch are compared too, as a check that
both trained the same 64 models.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make the ``benchmarks`` package importable.
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import jax
import numpy as np
import optax

import onecycle_jax as oc
from benchmarks import timing
from onecycle_jax import digits

MAX_LRS = np.geomspace(0.005, 0.5, 8).tolist()
PCT_STARTS = np.linspace(0.1, 0.8, 8).tolist()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _jax_contestants(
    data: digits.Data, params: Any, indices: jax.Array, grid: oc.OneCycle
) -> tuple[dict[str, Any], jax.Array]:
    def train(cfg):
        final, _, _ = digits.train(oc.inject(optax.sgd, cfg), params, data, indices)
        return final, digits.accuracy(final, data.x_test, data.y_test)

    sweep = jax.jit(jax.vmap(train))
    run = jax.jit(train)
    configs = list(grid)

    def sequential():
        return [run(cfg) for cfg in configs]

    accuracy = sweep(grid)[1]
    return {"sweep": lambda: sweep(grid), "sequential JAX": sequential}, accuracy


def _torch_contestant(
    data: digits.Data,
    params: Any,
    indices: jax.Array,
    grid: oc.OneCycle,
    threads: int,
) -> tuple[timing.Sample, Any]:
    """A sample timing PyTorch's 64 trainings, and their test accuracies."""
    import torch

    torch.set_num_threads(threads)
    x_train, x_test = (torch.tensor(np.asarray(x)) for x in (data.x_train, data.x_test))
    y_train, y_test = (
        torch.tensor(np.asarray(y)).long() for y in (data.y_train, data.y_test)
    )
    batches = torch.tensor(np.asarray(indices)).long()
    # The same initial parameters, with torch's (out, in) weight layout.
    initial = [
        (torch.tensor(np.asarray(layer["w"]).T), torch.tensor(np.asarray(layer["b"])))
        for layer in params
    ]
    configs = grid.to_dicts()

    def model() -> torch.nn.Sequential:
        net = torch.nn.Sequential(
            torch.nn.Linear(*initial[0][0].T.shape),
            torch.nn.ReLU(),
            torch.nn.Linear(*initial[1][0].T.shape),
        )
        with torch.no_grad():
            for linear, (weight, bias) in zip(net[::2], initial, strict=True):
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
        return net

    def train(config: dict[str, Any]) -> torch.nn.Sequential:
        net = model()
        optimizer = torch.optim.SGD(net.parameters(), lr=config["max_lr"], momentum=0.9)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config["max_lr"],
            total_steps=config["total_steps"],
            pct_start=config["pct_start"],
            div_factor=config["div_factor"],
            final_div_factor=config["final_div_factor"],
            base_momentum=config["base_momentum"],
            max_momentum=config["max_momentum"],
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        for rows in batches:
            optimizer.zero_grad()
            loss_fn(net(x_train[rows]), y_train[rows]).backward()
            optimizer.step()
            scheduler.step()
        return net

    finished: list[torch.nn.Sequential] = []

    def sample() -> float:
        start = time.perf_counter()
        nets = [train(config) for config in configs]
        seconds = time.perf_counter() - start
        finished[:] = nets
        return seconds

    def accuracy() -> np.ndarray:
        with torch.no_grad():
            return np.asarray(
                [
                    float((n(x_test).argmax(-1) == y_test).float().mean())
                    for n in finished
                ]
            )

    return sample, accuracy


def figures(
    quick: bool = False,
    steps: int | None = None,
    batch_size: int = 32,
    repeats: int | None = None,
    with_torch: bool = True,
    torch_threads: int | None = None,
) -> dict[str, Any]:
    """Times the sweep against sequential JAX runs and PyTorch.

    Args:
      quick: a smaller run (100 steps, 3 rounds) for CI.
      steps: training steps per configuration (300, or 100 with ``quick``).
      batch_size: examples per step.
      repeats: timed rounds (5, or 3 with ``quick``).
      with_torch: whether to time PyTorch too (needs ``torch``).
      torch_threads: PyTorch's threads; by default the cores JAX may use.

    Returns:
      The figures by name: the speed-ups first, then seconds per sweep of
      64 trainings for each contestant, the sizes, and how far the final
      test accuracies of the JAX sweep and PyTorch lie apart.
    """
    steps = steps or (100 if quick else 300)
    repeats = repeats or (3 if quick else 5)
    data = digits.load()
    params = digits.init(jax.random.key(0))
    indices = digits.batch_indices(
        jax.random.key(1), data.x_train.shape[0], batch_size, steps
    )
    grid = oc.grid(max_lr=MAX_LRS, pct_start=PCT_STARTS, total_steps=steps)

    contestants, accuracy = _jax_contestants(data, params, indices, grid)
    samples = {name: timing.calls(fn, target_s=0.0) for name, fn in contestants.items()}
    threads = torch_threads or _cores()
    if with_torch:
        samples["PyTorch"], torch_accuracy = _torch_contestant(
            data, params, indices, grid, threads
        )
    times = timing.rounds(samples, repeats)

    result: dict[str, Any] = {
        "speedup_vs_sequential_jax": timing.paired_ratio(
            times["sequential JAX"], times["sweep"]
        ),
    }
    if with_torch:
        result["speedup_vs_pytorch"] = timing.paired_ratio(
            times["PyTorch"], times["sweep"]
        )
    result.update({f"{name} s": timing.median(t) for name, t in times.items()})
    result.update(
        configurations=len(grid),
        steps=steps,
        batch_size=batch_size,
        rounds=repeats,
        cores=_cores(),
        best_test_accuracy=float(np.max(accuracy)),
    )
    if with_torch:
        gap = np.abs(np.asarray(accuracy) - torch_accuracy())
        result["torch_threads"] = threads
        result["accuracy_gap_vs_pytorch_median"] = float(np.median(gap))
        result["accuracy_gap_vs_pytorch_max"] = float(np.max(gap))
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line: runs :func:`figures` and prints them as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 steps, 3 rounds")
    parser.add_argument("--steps", type=int, help="steps per configuration")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, help="timed rounds")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    parser.add_argument("--torch-threads", type=int, help="default: the cores")
    args = parser.parse_args(argv)

    result = figures(
        quick=args.quick,
        steps=args.steps,
        batch_size=args.batch_size,
        repeats=args.repeats,
        with_torch=not args.no_torch,
        torch_threads=args.torch_threads,
    )
    print("| figure | value |\n|---|---:|")
    for name, value in result.items():
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"| {name} | {shown} |")
    return result


if __name__ == "__main__":
    main()
