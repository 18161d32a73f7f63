"""The schedules under test, built from one configuration.

- ours: :func:`onecycle_jax.onecycle`;
- optax: ``optax.cosine_onecycle_schedule``, which takes one scalar count,
  so it is vmapped over a vector of counts;
- torch: ``torch.optim.lr_scheduler.OneCycleLR``, stepped in a loop;
- textbook: PyTorch's formula, ``end + (start - end) / 2 * (cos(pi * pct) + 1)``,
  written in float32 with ``jax.numpy``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import onecycle_jax as oc

# The configuration every benchmark uses: PyTorch's defaults, max_lr 0.1.
MAX_LR = 0.1
PCT_START = 0.3
DIV_FACTOR = 25.0
FINAL_DIV_FACTOR = 1e4


def ours(total_steps: int) -> oc.OneCycle:
    """Our schedule for ``total_steps``."""
    return oc.onecycle(
        MAX_LR,
        total_steps,
        pct_start=PCT_START,
        div_factor=DIV_FACTOR,
        final_div_factor=FINAL_DIV_FACTOR,
    )


def optax_onecycle(total_steps: int) -> optax.Schedule:
    """optax's onecycle for ``total_steps``, callable on scalar counts.

    optax's schedule mixes bool and float arrays, which JAX's strict dtype
    promotion rejects, so it is traced under standard promotion here.
    """
    schedule = optax.cosine_onecycle_schedule(
        total_steps,
        MAX_LR,
        pct_start=PCT_START,
        div_factor=DIV_FACTOR,
        final_div_factor=FINAL_DIV_FACTOR,
    )

    def standard(count: Any) -> jax.Array:
        with jax.numpy_dtype_promotion("standard"):
            return schedule(count)

    return standard


def textbook_lr(total_steps: int) -> Any:
    """PyTorch's two-phase cosine formula, every operation in float32.

    The phase ends are rounded to float32 once, from their float64 values,
    which is as kind to the formula as float32 allows.
    """
    f32 = np.float32
    initial = MAX_LR / DIV_FACTOR
    values = [f32(initial), f32(MAX_LR), f32(initial / FINAL_DIV_FACTOR)]
    first_end = f32(PCT_START * total_steps - 1)
    last_end = f32(total_steps - 1)

    def lr(count: jax.Array) -> jax.Array:
        step = count.astype(jnp.float32)
        rising = step <= first_end
        start_step = jnp.where(rising, f32(0.0), first_end)
        end_step = jnp.where(rising, first_end, last_end)
        start = jnp.where(rising, values[0], values[1])
        end = jnp.where(rising, values[1], values[2])
        pct = (step - start_step) / (end_step - start_step)
        return end + (start - end) / f32(2.0) * (jnp.cos(f32(np.pi) * pct) + f32(1.0))

    return lr


def torch_scheduler(total_steps: int) -> tuple[Any, Any]:
    """A fresh SGD optimizer and OneCycleLR, ready for its first step.

    The optimizer has stepped once (on no gradients, a no-op) so that
    PyTorch does not warn that the scheduler stepped first.
    """
    import torch

    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=MAX_LR, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=MAX_LR,
        total_steps=total_steps,
        pct_start=PCT_START,
        div_factor=DIV_FACTOR,
        final_div_factor=FINAL_DIV_FACTOR,
    )
    optimizer.step()
    return optimizer, scheduler


def torch_values(total_steps: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's float64 lr and momentum at its first ``steps`` steps."""
    optimizer, scheduler = torch_scheduler(total_steps)
    group = optimizer.param_groups[0]
    lrs = np.empty(steps, np.float64)
    momenta = np.empty(steps, np.float64)
    for index in range(steps):
        lrs[index] = group["lr"]
        momenta[index] = group["momentum"]
        if index + 1 < steps:
            scheduler.step()
    return lrs, momenta
