"""Plots of one-cycle schedules, to look at a schedule before training with it.

matplotlib comes with the ``examples`` extra and is imported only when a plot
is drawn. Figures are built without ``pyplot`` (a bare ``Figure`` saves
through the Agg canvas), so drawing one changes no global state; pass your
own axes to draw inside a notebook's figure instead.

A schedule can be overlaid with two references (``compare``):

- ``"torch"``: PyTorch's ``OneCycleLR``, stepped for real (needs torch);
- ``"optax"``: ``optax.cosine_onecycle_schedule``, which peaks one step later
  than PyTorch and reaches its final value one step later too.

The last panel then shows each reference's learning rate minus ours, so a
one-step shift is visible even where the curves overlap.

A long schedule is drawn at :data:`MAX_POINTS` evenly spaced steps plus the
steps on either side of each phase end (see :func:`plotted_counts`), so a
plot of a hundred million steps costs what one of twenty thousand does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from onecycle_jax._onecycle import OneCycle

REFERENCES = ("torch", "optax")
_LABELS = {
    "torch": "PyTorch OneCycleLR",
    "optax": "optax.cosine_onecycle_schedule",
}
_STYLES = {"torch": dict(ls="--", lw=1.5), "optax": dict(ls=":", lw=2.0)}
# Far more points than a figure has pixels across.
MAX_POINTS = 20_000


def counts(sched: OneCycle) -> np.ndarray:
    """The optax update counts that a schedule's cycle spans.

    A resumed schedule (``last_epoch >= 0``) has fewer left to run.

    Examples:
      >>> import onecycle_jax as oc
      >>> from onecycle_jax import plot
      >>> plot.counts(oc.onecycle(0.1, total_steps=10, last_epoch=3)).tolist()
      [0, 1, 2, 3, 4, 5]
    """
    return np.arange(num_counts(sched))


def num_counts(sched: OneCycle) -> int:
    """How many optax update counts a schedule's cycle spans: ``len(counts)``.

    Examples:
      >>> import onecycle_jax as oc
      >>> from onecycle_jax import plot
      >>> plot.num_counts(oc.onecycle(0.1, total_steps=10, last_epoch=3))
      6
    """
    _require_concrete(sched)
    return max(int(sched.total_steps) - int(sched.last_epoch) - 1, 0)


def plotted_counts(sched: OneCycle, max_points: int = MAX_POINTS) -> np.ndarray:
    """The counts a plot evaluates: all of :func:`counts`, or a sample of them.

    A cycle of more than ``max_points`` steps is sampled at ``max_points``
    evenly spaced whole steps, plus the whole steps on either side of each
    phase end, so the peak and the ends are drawn at their true values.

    Examples:
      >>> import onecycle_jax as oc
      >>> from onecycle_jax import plot
      >>> plot.plotted_counts(oc.onecycle(0.1, total_steps=105), 5).tolist()
      [0, 26, 30, 31, 52, 78, 104]
    """
    n = num_counts(sched)
    if n <= max_points:
        return np.arange(n)
    ends = np.array([end for _, end in named_phase_ends(sched)])
    near = np.concatenate([np.floor(ends), np.ceil(ends)]).astype(np.int64)
    even = np.linspace(0, n - 1, max_points).round().astype(np.int64)
    return np.unique(np.clip(np.concatenate([even, near]), 0, n - 1))


def named_phase_ends(sched: OneCycle) -> list[tuple[str, float]]:
    """The step (optax count) at which each phase ends, within the cycle left.

    Examples:
      >>> import onecycle_jax as oc
      >>> from onecycle_jax import plot
      >>> plot.named_phase_ends(oc.onecycle(0.1, total_steps=100, three_phase=True))
      [('peak', 29.0), ('phase 2 end', 58.0), ('last', 99.0)]
      >>> plot.named_phase_ends(oc.onecycle(0.1, total_steps=100, last_epoch=49))
      [('last', 49.0)]
    """
    _require_concrete(sched)
    names = ["peak", "phase 2 end"] if sched.three_phase else ["peak"]
    offset = int(sched.last_epoch) + 1
    return [
        (name, float(end) - offset)
        for name, end in zip([*names, "last"], sched.phase_ends, strict=True)
        if float(end) >= offset
    ]


def reference(
    sched: OneCycle, name: str, steps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """A reference implementation's learning rate and momentum at ``counts``.

    Args:
      sched: a concrete, single-group schedule.
      name: ``"torch"`` or ``"optax"``.
      steps: the counts to give values at, from :func:`counts` (all of them
        if ``None``). PyTorch's scheduler is stepped through every step
        whatever they are; optax's is evaluated at these only.

    Returns:
      ``(lr, momentum)`` as float64 arrays over ``steps``; momentum is
      ``None`` for optax, whose schedule has none.

    Raises:
      ImportError: ``name`` is ``"torch"`` and torch is not installed.
      ZeroDivisionError: ``name`` is ``"torch"`` and PyTorch's scheduler
        divides by zero for this schedule (a phase of zero steps, such as
        ``pct_start * total_steps == 1``).
      ValueError: ``name`` is unknown, the schedule has parameter groups, or
        optax has no schedule of this shape (it has only the two-phase
        cosine one).

    Examples:
      >>> import onecycle_jax as oc
      >>> from onecycle_jax import plot
      >>> lr, momentum = plot.reference(oc.onecycle(1.0, total_steps=10), "optax")
      >>> int(lr.argmax()), momentum  # the peak; ours is at step 2
      (3, None)
    """
    if name not in REFERENCES:
        raise ValueError(f"name must be 'torch' or 'optax', got {name!r}")
    if sched.group_shape != ():
        raise ValueError(
            f"a comparison needs a single-group schedule, got group shape "
            f"{sched.group_shape}"
        )
    offset = int(sched.last_epoch) + 1
    steps = (counts(sched) if steps is None else np.asarray(steps)) + offset
    if name == "torch":
        lr, momentum = _torch(sched)
        return lr[steps], momentum[steps]
    if sched.anneal_strategy != "cos" or sched.three_phase:
        raise ValueError(
            "optax has only a two-phase cosine one-cycle schedule; compare "
            "with anneal_strategy='cos' and three_phase=False"
        )
    import jax
    import optax

    optax_sched = optax.cosine_onecycle_schedule(
        transition_steps=int(sched.total_steps),
        peak_value=float(sched.max_lr),
        pct_start=float(sched.pct_start),
        div_factor=float(sched.div_factor),
        final_div_factor=float(sched.final_div_factor),
    )
    # optax's piecewise schedules take one count at a time, and mix dtypes
    # as only standard promotion allows.
    with jax.numpy_dtype_promotion("standard"):
        return np.asarray(jax.vmap(optax_sched)(steps), np.float64), None


def _torch(sched: OneCycle) -> tuple[np.ndarray, np.ndarray]:
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "comparing with PyTorch needs torch: pip install 'onecycle-jax[parity]'"
        ) from error

    total = int(sched.total_steps)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.0, momentum=float(sched.max_momentum))
    try:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=float(sched.max_lr),
            total_steps=total,
            pct_start=float(sched.pct_start),
            anneal_strategy=sched.anneal_strategy,
            cycle_momentum=sched.cycle_momentum,
            base_momentum=float(sched.base_momentum),
            max_momentum=float(sched.max_momentum),
            div_factor=float(sched.div_factor),
            final_div_factor=float(sched.final_div_factor),
            three_phase=sched.three_phase,
        )
        group = optimizer.param_groups[0]
        lr, momentum = np.empty(total), np.empty(total)
        for step in range(total):
            lr[step], momentum[step] = group["lr"], group["momentum"]
            # PyTorch raises if stepped past total_steps, so the last step
            # stops at recording; param has no gradient, so optimizer.step()
            # moves nothing (it is there because OneCycleLR checks the order).
            if step + 1 < total:
                optimizer.step()
                scheduler.step()
    except ZeroDivisionError as error:
        raise ZeroDivisionError(
            "PyTorch's OneCycleLR divides by zero for this schedule (a phase "
            f"of zero steps: total_steps={total}, "
            f"pct_start={float(sched.pct_start)})"
        ) from error
    return lr, momentum


def schedule(
    sched: OneCycle,
    *,
    log: bool = False,
    compare: Sequence[str] = (),
    axes: Sequence[Any] | None = None,
) -> Any:
    """Plots learning rate and momentum against the step, phase ends marked.

    The curves pass through the values at :func:`plotted_counts`.

    Args:
      sched: a schedule with concrete hyperparameters.
      log: whether the learning-rate axis is logarithmic.
      compare: references to overlay, from ``"torch"`` and ``"optax"``; a
        third panel then shows each one's learning rate minus ours.
      axes: matplotlib ``Axes`` to draw on, two (three with ``compare``);
        a new figure's if ``None``.

    Returns:
      The matplotlib ``Figure``.

    Raises:
      ImportError, ValueError, ZeroDivisionError: as :func:`reference`;
        ValueError also for a
        wrong number of ``axes``.

    Examples:
      >>> import onecycle_jax as oc
      >>> from onecycle_jax import plot
      >>> fig = plot.schedule(oc.onecycle(0.1, total_steps=100), compare=["optax"])
      >>> [ax.get_ylabel() for ax in fig.axes]
      ['learning rate', 'momentum', 'reference - ours']
    """
    steps = plotted_counts(sched)
    refs = {name: reference(sched, name, steps) for name in dict.fromkeys(compare)}
    axes = _axes(axes, 3 if refs else 2)
    lr_ax, momentum_ax = axes[:2]
    lr = np.asarray(sched.lr(steps), np.float64)
    momentum = np.asarray(sched.momentum(steps), np.float64)

    lr_ax.plot(steps, lr, lw=3, alpha=0.6, color="C0", label="onecycle-jax")
    momentum_ax.plot(steps, momentum, lw=3, alpha=0.6, color="C1", label="onecycle-jax")
    for i, (name, (ref_lr, ref_momentum)) in enumerate(refs.items()):
        color, style = f"C{i + 2}", _STYLES[name]
        lr_ax.plot(steps, ref_lr, color=color, label=_LABELS[name], **style)
        if ref_momentum is not None:
            momentum_ax.plot(
                steps, ref_momentum, color=color, label=_LABELS[name], **style
            )
        axes[2].plot(steps, ref_lr - lr, color=color, label=_LABELS[name], **style)
    if refs:
        axes[2].axhline(0.0, color="0.5", lw=0.8)
        axes[2].set_ylabel("reference - ours")
        axes[2].legend(loc="best", fontsize="small")

    for ax in axes:
        for _, end in named_phase_ends(sched):
            ax.axvline(end, color="0.6", ls="--", lw=0.8, zorder=0)
        ax.grid(alpha=0.3)
    _label_phases(lr_ax, sched)
    if log:
        lr_ax.set_yscale("log")
    lr_ax.set_ylabel("learning rate")
    momentum_ax.set_ylabel("momentum")
    axes[-1].set_xlabel("step (optax update count)")
    lr_ax.set_title(_title(sched))
    if refs:
        lr_ax.legend(loc="best", fontsize="small")
    return lr_ax.figure


def _label_phases(ax: Any, sched: OneCycle) -> None:
    # Tick labels above the top panel, where no curve can hide them.
    ends = named_phase_ends(sched)
    top = ax.secondary_xaxis("top")
    top.set_xticks([end for _, end in ends], [f"{name}\n{end:g}" for name, end in ends])
    top.tick_params(labelsize="small")


def _title(sched: OneCycle) -> str:
    phases = "three phases" if sched.three_phase else "two phases"
    momentum = "" if sched.cycle_momentum else ", momentum fixed"
    if int(sched.last_epoch) >= 0:
        momentum += f", resumed after step {int(sched.last_epoch)}"
    lr = np.asarray(sched.max_lr).tolist()
    return (
        f"one cycle: max_lr={lr}, total_steps={int(sched.total_steps)}, "
        f"{sched.anneal_strategy}, {phases}{momentum}"
    )


def _axes(axes: Sequence[Any] | None, needed: int) -> Sequence[Any]:
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 2.4 * needed + 0.6), layout="constrained")
        return fig.subplots(needed, 1, sharex=True)
    if len(axes) != needed:
        raise ValueError(f"axes must hold {needed} Axes here, got {len(axes)}")
    return axes


def _require_concrete(sched: OneCycle) -> None:
    from onecycle_jax import _validate

    for name in ("total_steps", "last_epoch"):
        if _validate.is_traced(getattr(sched, name)):
            raise ValueError(f"plotting needs a concrete {name}, got a traced value")
