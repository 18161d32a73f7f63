"""Evaluating a whole schedule: steps per second, ours against optax and torch.

Ours is ``jax.jit(sched)(jnp.arange(n))``; optax's onecycle takes a scalar
count, so it runs as ``jax.jit(jax.vmap(schedule))(jnp.arange(n))``.
PyTorch's OneCycleLR can only be stepped, one Python call a step (which
sets both lr and momentum), so it is timed over its first
``min(n, torch_prefix)`` steps and reported per step: its cost per step
does not depend on the cycle length.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from benchmarks import contestants, report, timing


def _torch_sample(total_steps: int, steps: int) -> timing.Sample:
    def sample() -> float:
        optimizer, scheduler = contestants.torch_scheduler(total_steps)
        group = optimizer.param_groups[0]
        seen = []
        start = time.perf_counter()
        for _ in range(steps - 1):
            scheduler.step()
            seen.append((group["lr"], group["momentum"]))
        return (time.perf_counter() - start) / (steps - 1)

    return sample


def measure(
    sizes: Sequence[int], torch_prefix: int, repeats: int, target_s: float = 0.02
) -> list[dict[str, Any]]:
    """Steps per second of each contestant, for each cycle length in ``sizes``.

    Returns:
      One row per size: ``n``, ``torch_steps`` (the prefix timed), the
      steps per second of ``ours``, ``ours_both`` (lr and momentum),
      ``optax`` and ``torch``, and the paired ratios ``vs_optax``
      (ours / optax throughput) and ``vs_torch`` (ours_both / torch).
    """
    rows = []
    for n in sizes:
        counts = jnp.arange(n, dtype=jnp.int32)
        sched = contestants.ours(n)
        ours = jax.jit(sched)
        both = jax.jit(lambda c, s=sched: (s.lr(c), s.momentum(c)))
        theirs = jax.jit(jax.vmap(contestants.optax_onecycle(n)))
        torch_steps = max(2, min(n, torch_prefix))
        samples = {
            "ours": timing.calls(lambda f=ours, c=counts: f(c), target_s),
            "ours_both": timing.calls(lambda f=both, c=counts: f(c), target_s),
            "optax": timing.calls(lambda f=theirs, c=counts: f(c), target_s),
            "torch": _torch_sample(n, torch_steps),
        }
        times = timing.rounds(samples, repeats)
        # The torch sample is already per step; the others are per schedule.
        per_step = {
            name: ts if name == "torch" else [t / n for t in ts]
            for name, ts in times.items()
        }
        row: dict[str, Any] = {"n": n, "torch_steps": torch_steps}
        row.update({name: 1.0 / timing.median(ts) for name, ts in per_step.items()})
        row["vs_optax"] = timing.paired_ratio(per_step["optax"], per_step["ours"])
        row["vs_torch"] = timing.paired_ratio(per_step["torch"], per_step["ours_both"])
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The throughput table and how it was measured."""
    lines = [
        "| steps N | ours lr (steps/s) | ours lr+mom (steps/s) | optax lr "
        "(steps/s) | torch lr+mom (steps/s) | torch steps timed "
        "| ours / optax | ours / torch |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['n']:,} | {report.rate(row['ours'])} "
            f"| {report.rate(row['ours_both'])} "
            f"| {report.rate(row['optax'])} | {report.rate(row['torch'])} "
            f"| {row['torch_steps']:,} "
            f"| {row['vs_optax']:.2f}x | {row['vs_torch']:.0f}x |"
        )
    lines += [
        "",
        "Ours is `jax.jit(sched)(jnp.arange(N))` (lr only), and with "
        "`sched.momentum` too (lr+mom); optax's `cosine_onecycle_schedule` takes "
        "one scalar count, so it runs as `jax.jit(jax.vmap(schedule))`. "
        "PyTorch's `OneCycleLR` is stepped in a Python loop "
        "(each `scheduler.step()` sets lr and momentum); for N above the "
        "prefix it is timed over its first steps only and reported per step, "
        "as its cost per step does not depend on N. *ours / optax* compares "
        "lr alone; *ours / torch* compares lr and momentum on both sides. "
        "Throughput is N over the median time of one blocked, compiled call; "
        "ratios are medians of ratios within interleaved rounds.",
    ]
    return "\n".join(lines)
