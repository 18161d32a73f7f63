"""The demo: one cycle against constant learning rates on the digits MLP.

Every run trains the same initial parameters on the same minibatches for the
same number of steps; only the optimizer's learning rate and momentum
differ. The one-cycle run uses :func:`onecycle_jax.sgd` (cycling momentum);
the baselines use SGD with a constant rate and a fixed momentum, at a few
fractions of ``max_lr`` (the best of them is the fair comparison, since a
single constant rate could be badly chosen).

Test accuracy is measured every ``eval_every`` steps. Training runs as
compiled chunks of ``eval_every`` steps, which carry the optimizer state from
one chunk to the next, so a caller can show progress between chunks.

The command line (``onecycle-jax demo``) prints and plots; nothing here does.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax

import onecycle_jax as oc
from onecycle_jax import digits

DEFAULTS = types.MappingProxyType(
    {
        "steps": 400,
        "batch_size": 32,
        "max_lr": 0.2,
        "seed": 0,
        "target": 0.97,
        "eval_every": 10,
        "constant_momentum": 0.9,
        "constant_fractions": (0.1, 1 / 3, 1.0),
    }
)
"""The demo's defaults; the one-cycle options not listed are ``oc.onecycle``'s."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run: its label, learning rate and what was measured.

    ``accuracies[i]`` is the test accuracy after ``eval_steps[i]`` updates.
    """

    label: str
    lr: float
    losses: np.ndarray
    eval_steps: np.ndarray
    accuracies: np.ndarray

    @property
    def final_accuracy(self) -> float:
        """The test accuracy at the end of the run."""
        return float(self.accuracies[-1])

    def first_at(self, target: float) -> int | None:
        """The first evaluated step with test accuracy >= ``target``, or None."""
        hits = np.flatnonzero(self.accuracies >= target)
        return int(self.eval_steps[hits[0]]) if hits.size else None

    def held_from(self, target: float) -> int | None:
        """The step from which every evaluation is >= ``target``, or None.

        A noisy run can touch the target once and fall back; this is the
        step at which it got there for good.
        """
        below = np.flatnonzero(self.accuracies < target)
        if not below.size:
            return int(self.eval_steps[0])
        after = below[-1] + 1
        return int(self.eval_steps[after]) if after < len(self.eval_steps) else None


@dataclasses.dataclass(frozen=True)
class Result:
    """The one-cycle run, the constant-rate runs and the schedule used."""

    one_cycle: Run
    constants: tuple[Run, ...]
    sched: oc.OneCycle
    target: float

    @property
    def best_constant(self) -> Run:
        """The constant run that held the target soonest (ties: most accurate)."""
        never = len(self.one_cycle.losses) + 1

        def rank(run: Run) -> tuple[int, int, float]:
            held, first = run.held_from(self.target), run.first_at(self.target)
            return held or never, first or never, -run.final_accuracy

        return min(self.constants, key=rank)


def setup(
    seed: int, batch_size: int, steps: int
) -> tuple[digits.Data, list[dict], jax.Array]:
    """The data, initial parameters and minibatch indices for a seed."""
    data = digits.load()
    init_key, batch_key = jax.random.split(jax.random.PRNGKey(seed))
    params = digits.init(init_key)
    indices = digits.batch_indices(batch_key, data.x_train.shape[0], batch_size, steps)
    return data, params, indices


@dataclasses.dataclass(frozen=True)
class _OneCycleSGD:
    # Hashable recipes, so jit reuses a compiled chunk across runs and calls.
    steps: int
    options: tuple[tuple[str, Any], ...]

    def __call__(self, max_lr: Any) -> optax.GradientTransformation:
        return oc.sgd(max_lr, self.steps, **dict(self.options))


@dataclasses.dataclass(frozen=True)
class _ConstantSGD:
    momentum: float

    def __call__(self, lr: Any) -> optax.GradientTransformation:
        return optax.sgd(lr, momentum=self.momentum)


def _resume(optimizer: Any, state: Any) -> optax.GradientTransformation:
    # digits.train starts from optimizer.init(params); handing it the state
    # reached so far continues the run (same update count, same buffers).
    return optax.GradientTransformation(lambda params: state, optimizer.update)


@functools.partial(jax.jit, static_argnums=0)
def _chunk(make, hyper, params, state, data, rows):
    optimizer = _resume(make(hyper), state)
    params, state, losses = digits.train(optimizer, params, data, rows)
    return params, state, losses, digits.accuracy(params, data.x_test, data.y_test)


def _train(make, hyper, params, data, indices, eval_every, progress):
    state = make(hyper).init(params)
    losses, steps, accuracies = [], [], []
    for start in range(0, indices.shape[0], eval_every):
        rows = indices[start : start + eval_every]
        params, state, chunk_losses, accuracy = _chunk(
            make, hyper, params, state, data, rows
        )
        losses.append(np.asarray(chunk_losses))
        steps.append(start + rows.shape[0])
        accuracies.append(float(accuracy))
        if progress is not None:
            progress(rows.shape[0])
    return np.concatenate(losses), np.asarray(steps), np.asarray(accuracies)


def run(
    *,
    steps: int = DEFAULTS["steps"],
    max_lr: float = DEFAULTS["max_lr"],
    seed: int = DEFAULTS["seed"],
    batch_size: int = DEFAULTS["batch_size"],
    target: float = DEFAULTS["target"],
    eval_every: int = DEFAULTS["eval_every"],
    constant_momentum: float = DEFAULTS["constant_momentum"],
    constant_fractions: tuple[float, ...] = DEFAULTS["constant_fractions"],
    progress: Callable[[int], Any] | None = None,
    **onecycle_kwargs: Any,
) -> Result:
    """Trains the one-cycle run and the constant-rate runs.

    ``progress``, if given, is called with the number of steps just done,
    after every chunk of every run (``steps * (1 + len(constant_fractions))``
    in all). ``onecycle_kwargs`` go to :func:`onecycle_jax.onecycle`.
    """
    sched = oc.onecycle(max_lr, steps, **onecycle_kwargs)
    data, params, indices = setup(seed, batch_size, steps)

    one_cycle = _OneCycleSGD(steps, tuple(sorted(onecycle_kwargs.items())))
    hyper = np.float32(max_lr)
    losses, evals, accs = _train(
        one_cycle, hyper, params, data, indices, eval_every, progress
    )
    runs = [Run(f"one cycle, max_lr={max_lr:.3g}", max_lr, losses, evals, accs)]
    constant = _ConstantSGD(constant_momentum)
    for fraction in constant_fractions:
        lr = max_lr * fraction
        losses, evals, accs = _train(
            constant, np.float32(lr), params, data, indices, eval_every, progress
        )
        label = f"constant lr={lr:.3g}, momentum {constant_momentum:g}"
        runs.append(Run(label, lr, losses, evals, accs))

    return Result(runs[0], tuple(runs[1:]), sched, target)


def figure(result: Result) -> Any:
    """Loss curves, test accuracy and the schedule, as a matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.6), layout="constrained")
    loss_ax, acc_ax, lr_ax = fig.subplots(1, 3)
    runs = (result.one_cycle, *result.constants)
    best = result.best_constant
    colors = {r.label: f"C{i}" for i, r in enumerate(runs)}
    for r in runs:
        style = dict(color=colors[r.label], lw=2.4 if r in (runs[0], best) else 0.9)
        loss_ax.plot(_smooth(r.losses), label=r.label, **style)
        acc_ax.plot(r.eval_steps, r.accuracies, label=r.label, **style)
        held = r.held_from(result.target)
        if held is not None:
            acc_ax.plot(held, result.target, "o", color=colors[r.label], ms=9, mec="k")
    loss_ax.set(yscale="log", xlabel="step", ylabel="training loss (moving average)")
    loss_ax.set_title("training loss", fontsize="medium")
    loss_ax.legend(fontsize="small")
    acc_ax.axhline(result.target, color="0.4", ls="--", lw=0.9)
    acc_ax.set(ylim=(min(0.9, result.target - 0.05), 1.0))
    acc_ax.set(xlabel="step", ylabel="test accuracy")
    acc_ax.set_title(
        f"test accuracy; dot: at or above {result.target:.1%} from there on",
        fontsize="medium",
    )

    steps = np.arange(len(result.one_cycle.losses))
    lr_ax.plot(steps, np.asarray(result.sched(steps)), color=colors[runs[0].label])
    lr_ax.axhline(best.lr, color=colors[best.label], ls=":", lw=2)
    lr_ax.set(xlabel="step", ylabel="learning rate")
    momentum_ax = lr_ax.twinx()
    momentum_ax.plot(
        steps, np.asarray(result.sched.momentum(steps)), color="0.45", ls="--"
    )
    momentum_ax.set_ylabel("momentum (dashed)")
    lr_ax.set_title(
        "one-cycle lr (solid) and momentum; dotted: best constant lr",
        fontsize="medium",
    )

    def held(run: Run) -> str:
        step = run.held_from(result.target)
        return f"from step {step}" if step is not None else "not held"

    one = result.one_cycle
    fig.suptitle(
        f"digits MLP, {len(steps)} steps: one cycle {one.final_accuracy:.1%} "
        f"({result.target:.1%} {held(one)}), best constant rate "
        f"{best.final_accuracy:.1%} ({held(best)})"
    )
    return fig


def _smooth(losses: np.ndarray, keep: float = 0.9) -> np.ndarray:
    # A bias-corrected moving average: minibatch losses are too noisy to
    # compare runs by eye.
    out = np.empty(len(losses))
    average = 0.0
    for i, value in enumerate(losses):
        average = keep * average + (1 - keep) * value
        out[i] = average / (1 - keep ** (i + 1))
    return out
