"""The schedule's cost inside a train step of the digits MLP.

Each optimizer trains ``onecycle_jax.digits``'s MLP for the same steps on
the same batches, as one jitted ``lax.scan`` (``digits.train``), so the
figure is the per-step cost of compiled code with no Python dispatch in
it. The contestants, timed in interleaved rounds:

- constant: ``optax.sgd(0.1, momentum=0.9)``, the floor;
- inject: ``optax.inject_hyperparams(optax.sgd)`` with the same constants,
  the cost of carrying hyperparameters in the state;
- ours: ``oc.sgd`` (learning rate and momentum both follow the cycle);
- optax: ``inject_hyperparams(optax.sgd)`` with optax's onecycle learning
  rate and a fixed momentum 0.9 (optax has no momentum cycle).
"""

from __future__ import annotations

from typing import Any

import jax
import optax

import onecycle_jax as oc
from benchmarks import contestants, report, timing
from onecycle_jax import digits

TARGET = 1.03  # ours at most 3% slower per step than a constant rate


def optimizers(total_steps: int) -> dict[str, optax.GradientTransformation]:
    """The four optimizers, by name."""
    inject = optax.inject_hyperparams(optax.sgd)
    return {
        "constant": optax.sgd(contestants.MAX_LR, momentum=0.9),
        "inject": inject(learning_rate=contestants.MAX_LR, momentum=0.9),
        "ours": oc.sgd(contestants.MAX_LR, total_steps),
        "optax": inject(
            learning_rate=contestants.optax_onecycle(total_steps), momentum=0.9
        ),
    }


def measure(
    steps: int,
    batch_size: int,
    repeats: int,
    names: tuple[str, ...] = ("constant", "inject", "ours", "optax"),
    data: digits.Data | None = None,
) -> dict[str, Any]:
    """Per-step time of each optimizer over ``steps`` steps of a scan.

    Args:
      steps: the steps in one scan, one timed sample.
      batch_size: the minibatch size.
      repeats: the interleaved rounds.
      names: the optimizers to time (see :func:`optimizers`), ``"constant"``
        among them.
      data: the digits data, loaded here when not given.

    Returns:
      ``seconds`` (median per step, by name), ``vs_constant`` (paired
      ratios of each to the constant rate), ``steps``, ``batch_size`` and
      ``repeats``.
    """
    data = digits.load() if data is None else data
    n = data.x_train.shape[0]
    # One compiled set-up rather than a compile for every eager operation.
    params, indices = jax.jit(
        lambda: (
            digits.init(jax.random.key(0)),
            digits.batch_indices(jax.random.key(1), n, batch_size, steps),
        )
    )()
    chosen = optimizers(steps)
    samples = {}
    for name in names:
        optimizer = chosen[name]
        run = jax.jit(lambda p, d, i, opt=optimizer: digits.train(opt, p, d, i))
        samples[name] = timing.calls(
            lambda run=run: run(params, data, indices), target_s=0.0
        )
    times = timing.rounds(samples, repeats)
    return {
        "seconds": {name: timing.median(ts) / steps for name, ts in times.items()},
        "vs_constant": {
            name: timing.paired_ratio(ts, times["constant"])
            for name, ts in times.items()
        },
        "steps": steps,
        "batch_size": batch_size,
        "repeats": repeats,
    }


def markdown(figures: dict[str, Any]) -> str:
    """The per-step table, the verdict on the 3% target and the method."""
    labels = {
        "constant": "`optax.sgd(0.1, momentum=0.9)` (constant)",
        "inject": "`inject_hyperparams(optax.sgd)`, constants",
        "ours": "ours: `oc.sgd(0.1, total_steps)`, lr and momentum cycle",
        "optax": "`inject_hyperparams(optax.sgd)`, optax onecycle lr",
    }
    lines = ["| optimizer | time per step | vs constant |", "|---|---:|---:|"]
    for name, label in labels.items():
        if name not in figures["seconds"]:
            continue
        lines.append(
            f"| {label} | {report.seconds(figures['seconds'][name])} "
            f"| {figures['vs_constant'][name]:.3f} |"
        )
    ratio = figures["vs_constant"]["ours"]
    lines += [
        "",
        report.verdict(
            ratio <= TARGET,
            "ours within 3% of the constant rate per train step",
            f"{(ratio - 1) * 100:+.1f}%",
        ),
        "",
        f"Each figure is one jitted `lax.scan` of {figures['steps']:,} SGD steps "
        f"(`digits.train`: the 64-64-10 MLP, batch {figures['batch_size']}, "
        "forward, gradient and update), divided by the steps; the optimizers "
        f"ran in {figures['repeats']} interleaved rounds, and each ratio is the "
        "median of the ratios within a round.",
    ]
    return "\n".join(lines)
