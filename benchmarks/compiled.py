"""What the schedule costs to compile, and how big it is once compiled.

Each schedule is jitted for one scalar int32 count (what a train step
evaluates), from a fresh function object every repeat so that no cache
serves it. Size is counted three ways: equations in the top-level jaxpr,
equations including nested jaxprs (``jnp`` helpers such as ``clip`` and
``where`` trace to nested ``pjit`` calls), and instructions in the
optimized HLO after XLA's fusion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.extend
import jax.numpy as jnp

from benchmarks import contestants, report, timing


def equations(jaxpr: Any) -> int:
    """The number of equations in ``jaxpr``, counting nested jaxprs too."""
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        for param in eqn.params.values():
            for inner in param if isinstance(param, tuple | list) else (param,):
                if isinstance(inner, jax.extend.core.ClosedJaxpr):
                    total += equations(inner.jaxpr)
                elif isinstance(inner, jax.extend.core.Jaxpr):
                    total += equations(inner)
    return total


def _schedules(total_steps: int) -> dict[str, Callable[[], Callable[..., Any]]]:
    # Each factory returns a new function object, built anew every call.
    sched = contestants.ours(total_steps)
    return {
        "ours lr": lambda: lambda count: sched.lr(count),
        "ours momentum": lambda: lambda count: sched.momentum(count),
        "optax lr": lambda: contestants.optax_onecycle(total_steps),
    }


def measure(total_steps: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Compile time and size of each schedule, built in interleaved rounds.

    Returns:
      By name: ``lower_s`` (trace and lower) and ``compile_s`` (XLA
      compile), medians over rounds; ``vs_optax`` (paired ratio of compile
      times to optax's); ``hlo_ops``, ``eqns`` (top-level jaxpr) and
      ``eqns_nested``.
    """
    count = jax.ShapeDtypeStruct((), jnp.int32)
    makers = _schedules(total_steps)
    lowers: dict[str, list[float]] = {name: [] for name in makers}
    figures: dict[str, dict[str, Any]] = {}
    for name, make in makers.items():
        # An untimed build first: the first trace of a function pays for
        # JAX's one-time set-up, which is no cost of the schedule.
        compiled = timing.build(make, (count,))[2]
        jaxpr = jax.make_jaxpr(make())(jnp.int32(0)).jaxpr
        figures[name] = {
            "hlo_ops": timing.hlo_instructions(compiled.as_text()),
            "eqns": len(jaxpr.eqns),
            "eqns_nested": equations(jaxpr),
        }

    def sample(name: str) -> timing.Sample:
        def once() -> float:
            lower_s, compile_s, _ = timing.build(makers[name], (count,))
            lowers[name].append(lower_s)
            return compile_s

        return once

    times = timing.rounds({name: sample(name) for name in makers}, repeats)
    for name, row in figures.items():
        row["lower_s"] = timing.median(lowers[name])
        row["compile_s"] = timing.median(times[name])
        row["vs_optax"] = timing.paired_ratio(times[name], times["optax lr"])
        row["lower_vs_optax"] = timing.paired_ratio(lowers[name], lowers["optax lr"])
    return figures


def markdown(figures: dict[str, dict[str, Any]], repeats: int) -> str:
    """The compile-time and size table and the ratios to optax."""
    lines = [
        "| schedule | trace + lower | compile | jaxpr eqns, all (top level) "
        "| HLO ops |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in figures.items():
        lines.append(
            f"| {name} | {report.seconds(row['lower_s'])} "
            f"| {report.seconds(row['compile_s'])} "
            f"| {row['eqns_nested']} ({row['eqns']}) | {row['hlo_ops']} |"
        )
    ours, theirs = figures["ours lr"], figures["optax lr"]
    lines += [
        "",
        f"Ours / optax for the learning rate: trace + lower "
        f"{ours['lower_vs_optax']:.2f}x, compile "
        f"{ours['vs_optax']:.2f}x, jaxpr equations "
        f"{ours['eqns_nested'] / theirs['eqns_nested']:.2f}x, HLO ops "
        f"{ours['hlo_ops'] / theirs['hlo_ops']:.2f}x. No target; ours does more "
        "arithmetic on purpose (the phase end split into a whole step and a "
        "fraction, the half-angle form on the nearer end), and optax has no "
        "momentum schedule.",
        "",
        f"Times are medians over {repeats} interleaved rounds, each building a "
        "fresh `jax.jit` function object of every schedule for a scalar int32 "
        "count (one untimed build first); time ratios are medians of the "
        "ratios within a round. The jaxpr is `jax.make_jaxpr` of the same "
        "function; *all* counts the equations of nested jaxprs too (a "
        "function wrapped in `jax.jit` is one top-level equation).",
    ]
    return "\n".join(lines)
