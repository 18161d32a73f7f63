"""SGD, Adam and AdamW on a one cycle, update for update PyTorch's.

Each is :func:`onecycle_jax.inject` around an optax chain that does what the
PyTorch optimizer does, so training matches ``torch.optim`` under
``OneCycleLR`` step for step (see ``tests/test_training_parity.py``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import optax

from onecycle_jax import _groups, _validate
from onecycle_jax._build import _static_bool, onecycle
from onecycle_jax._inject import inject
from onecycle_jax._onecycle import OneCycle

_ONECYCLE_KWARGS = tuple(inspect.signature(onecycle).parameters)[2:]


def _number(name: str, value: Any) -> Any:
    # The checks oc.onecycle makes, on the rules for the optimizers' numbers.
    checked = _validate.host_float(name, value)
    return checked if _validate.is_traced(checked) else float(checked)


def _schedules(
    caller: str, max_lr: Any, total_steps: Any, kwargs: dict[str, Any]
) -> OneCycle | dict[Any, OneCycle]:
    """The schedules, once ``kwargs`` are known to be ``onecycle``'s."""
    momentum = "momentum" if caller == "sgd" else "b1"
    for key, value in kwargs.items():
        if key in ("momentum", "b1"):
            raise TypeError(
                f"{caller}() got an unexpected keyword argument {key!r}: the "
                "momentum follows the cycle between base_momentum and "
                f"max_momentum; for a fixed {momentum} pass cycle_momentum=False, "
                f"max_momentum={value!r}"
            )
        if key not in _ONECYCLE_KWARGS:
            raise TypeError(
                f"{caller}() got an unexpected keyword argument {key!r}; besides "
                f"its own it takes those of onecycle_jax.onecycle: "
                f"{', '.join(_ONECYCLE_KWARGS)}"
            )
    return _groups.schedules(max_lr, total_steps, kwargs)


def _adam_momentum(sched: OneCycle | dict[Any, OneCycle]) -> None:
    # b1 = 1 makes Adam's bias correction 1 - b1**t zero (torch.optim.Adam
    # rejects betas[0] = 1 too). A held momentum is max_momentum alone.
    for group in sched.values() if isinstance(sched, dict) else [sched]:
        names = ("base_momentum", "max_momentum")
        for name in names if group.cycle_momentum else names[1:]:
            value = getattr(group, name)
            if not _validate.is_traced(value) and np.any(np.asarray(value) >= 1):
                raise ValueError(
                    f"{name} must be in [0, 1) for Adam's b1, got "
                    f"{np.asarray(value).tolist()}"
                )


def _torch_sgd(
    learning_rate: Any, momentum: Any, weight_decay: Any = 0.0, nesterov: bool = False
) -> optax.GradientTransformation:
    # PyTorch adds the weight decay to the gradient before the momentum
    # buffer sees it ("coupled"); its buffer starts at the first gradient,
    # as optax.trace's (zero-initialised) trace does after one step.
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.trace(decay=momentum, nesterov=nesterov),
        optax.scale_by_learning_rate(learning_rate),
    )


def _torch_sgd_no_decay(
    learning_rate: Any, momentum: Any, nesterov: bool = False
) -> optax.GradientTransformation:
    return optax.chain(
        optax.trace(decay=momentum, nesterov=nesterov),
        optax.scale_by_learning_rate(learning_rate),
    )


def _adam(learning_rate: Any, b1: Any, b2: Any, eps: Any) -> Any:
    return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


def _adamw(learning_rate: Any, b1: Any, b2: Any, eps: Any, weight_decay: Any) -> Any:
    return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)


def sgd(
    max_lr: Any,
    total_steps: Any = None,
    *,
    nesterov: bool = False,
    weight_decay: Any = 0.0,
    param_labels: Any = None,
    **onecycle_kwargs: Any,
) -> optax.GradientTransformationExtraArgs:
    """SGD with momentum on a one cycle, update for update ``torch.optim.SGD``.

    The momentum buffer is ``momentum * buffer + grad`` with the momentum of
    the current step (no dampening), the update ``-lr * buffer`` (Nesterov:
    ``-lr * (grad + momentum * buffer)``), and ``weight_decay`` is added to
    the gradient before the buffer, as PyTorch couples it.

    Args:
      max_lr: the peak learning rate; a mapping from group label to value
        (with ``param_labels``) gives parameter groups, as do mappings for
        ``base_momentum`` and ``max_momentum``.
      total_steps: the number of steps in the cycle.
      nesterov: whether to use Nesterov momentum.
      weight_decay: PyTorch's coupled L2 weight decay.
      param_labels: the group label of each parameter, as in
        :func:`optax.partition`.
      **onecycle_kwargs: the other arguments of :func:`onecycle_jax.onecycle`.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Raises:
      TypeError: an argument has the wrong type, or is not one of these or
        :func:`onecycle_jax.onecycle`'s (``momentum`` is not: it cycles;
        hold it with ``cycle_momentum=False, max_momentum=...``).
      ValueError: a value is out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> opt = oc.sgd(0.1, total_steps=100, nesterov=True)
      >>> params = jnp.ones(2)
      >>> state = opt.init(params)
      >>> updates, state = opt.update(jnp.ones(2), state, params)
      >>> [round(float(u), 5) for u in updates]
      [-0.0078, -0.0078]
    """
    sched = _schedules("sgd", max_lr, total_steps, onecycle_kwargs)
    nesterov = _static_bool("nesterov", nesterov)
    weight_decay = _number("weight_decay", weight_decay)
    if not _validate.is_traced(weight_decay) and float(weight_decay) == 0:
        return inject(
            _torch_sgd_no_decay, sched, "momentum", param_labels=param_labels,
            nesterov=nesterov,
        )  # fmt: skip
    return inject(
        _torch_sgd, sched, "momentum", param_labels=param_labels,
        nesterov=nesterov, weight_decay=weight_decay,
    )  # fmt: skip


def adam(
    max_lr: Any,
    total_steps: Any = None,
    *,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    param_labels: Any = None,
    **onecycle_kwargs: Any,
) -> optax.GradientTransformationExtraArgs:
    """Adam on a one cycle, its ``b1`` cycling as ``OneCycleLR`` cycles betas[0].

    As in ``torch.optim.Adam``, the bias correction of each step uses that
    step's ``b1``.

    Args:
      max_lr: the peak learning rate, or a mapping from group label to one.
      total_steps: the number of steps in the cycle.
      b2: the decay of the second moment.
      eps: added to the root of the second moment.
      param_labels: the group label of each parameter, for groups.
      **onecycle_kwargs: the other arguments of :func:`onecycle_jax.onecycle`.

    Raises:
      TypeError: an argument has the wrong type, or is not one of these or
        :func:`onecycle_jax.onecycle`'s (``b1`` is not: it cycles; hold it
        with ``cycle_momentum=False, max_momentum=...``).
      ValueError: a value is out of range; ``base_momentum`` and
        ``max_momentum`` must be below 1, or Adam's bias correction divides
        by zero.

    Examples:
      >>> import jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> opt = oc.adam(1e-2, total_steps=100)
      >>> state = opt.init(jnp.zeros(1))
      >>> updates, state = opt.update(jnp.ones(1), state)
      >>> round(float(updates[0]), 6)
      -0.0004
    """
    sched = _schedules("adam", max_lr, total_steps, onecycle_kwargs)
    _adam_momentum(sched)
    return inject(
        _adam, sched, "b1", param_labels=param_labels,
        b2=_number("b2", b2), eps=_number("eps", eps),
    )  # fmt: skip


def adamw(
    max_lr: Any,
    total_steps: Any = None,
    *,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    weight_decay: Any = 1e-2,
    param_labels: Any = None,
    **onecycle_kwargs: Any,
) -> optax.GradientTransformationExtraArgs:
    """AdamW on a one cycle: Adam plus decoupled decay ``lr * weight_decay``.

    Args:
      max_lr: the peak learning rate, or a mapping from group label to one.
      total_steps: the number of steps in the cycle.
      b2: the decay of the second moment.
      eps: added to the root of the second moment.
      weight_decay: the decoupled weight decay, scaled by the scheduled
        learning rate as in ``torch.optim.AdamW``.
      param_labels: the group label of each parameter, for groups.
      **onecycle_kwargs: the other arguments of :func:`onecycle_jax.onecycle`.

    Raises:
      TypeError: an argument has the wrong type, or is not one of these or
        :func:`onecycle_jax.onecycle`'s (``b1`` is not: it cycles; hold it
        with ``cycle_momentum=False, max_momentum=...``).
      ValueError: a value is out of range; ``base_momentum`` and
        ``max_momentum`` must be below 1, or Adam's bias correction divides
        by zero.

    Examples:
      >>> import jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> opt = oc.adamw(1e-2, total_steps=100, weight_decay=0.5)
      >>> params = jnp.ones(1)
      >>> updates, _ = opt.update(jnp.zeros(1), opt.init(params), params)
      >>> round(float(updates[0]), 6)  # -lr * weight_decay * param
      -0.0002
    """
    sched = _schedules("adamw", max_lr, total_steps, onecycle_kwargs)
    _adam_momentum(sched)
    return inject(
        _adamw, sched, "b1", param_labels=param_labels,
        b2=_number("b2", b2), eps=_number("eps", eps),
        weight_decay=_number("weight_decay", weight_decay),
    )  # fmt: skip
