"""Side-by-side timing: interleaved repeats, medians and paired ratios.

Contestants are timed in rounds, each round running every contestant once
in a rotated order, so that a slow spell of a busy machine falls on all of
them alike. A ratio is the median over rounds of the ratio within a round,
which cancels drift that a ratio of two medians would keep.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax

Sample = Callable[[], float]


def calls(fn: Callable[[], Any], target_s: float = 0.02) -> Sample:
    """A sample that times enough blocked calls of ``fn`` to last ``target_s``.

    ``fn`` is called twice first, untimed, so compilation and warm-up stay
    out of the figure; the number of calls per sample is fixed then, from
    the second call's time.

    Returns:
      A function that runs one sample and returns seconds per call.
    """
    jax.block_until_ready(fn())
    start = time.perf_counter()
    jax.block_until_ready(fn())
    once = time.perf_counter() - start
    number = max(1, min(10_000, round(target_s / max(once, 1e-9))))

    def sample() -> float:
        start = time.perf_counter()
        for _ in range(number):
            jax.block_until_ready(fn())
        return (time.perf_counter() - start) / number

    return sample


def rounds(samples: Mapping[str, Sample], repeats: int) -> dict[str, list[float]]:
    """Runs every sample ``repeats`` times, interleaved, in rotated order.

    Returns:
      The seconds of each sample, in round order, by name.
    """
    names = list(samples)
    times: dict[str, list[float]] = {name: [0.0] * repeats for name in names}
    for index in range(repeats):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            times[name][index] = samples[name]()
    return times


def median(values: list[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median over rounds of ``numerator[i] / denominator[i]``."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def build(make: Callable[[], Callable[..., Any]], args: tuple[Any, ...]) -> tuple:
    """Times tracing-plus-lowering and compiling ``jax.jit(make())`` once.

    ``make`` must return a fresh function object on every call, so that no
    JAX cache keyed on the function serves a second build.

    Returns:
      ``(lower_s, compile_s, compiled)``.
    """
    jitted = jax.jit(make())
    start = time.perf_counter()
    lowered = jitted.lower(*args)
    middle = time.perf_counter()
    compiled = lowered.compile()
    return middle - start, time.perf_counter() - middle, compiled


def hlo_instructions(text: str) -> int:
    """The number of instructions in HLO text (lines that define a value)."""
    return sum(
        1
        for line in text.splitlines()
        if " = " in line and not line.lstrip().startswith(("HloModule", "//"))
    )
