"""Parameter groups and the hyperparameters an optimizer state holds.

A group is a label of :func:`optax.partition`. Each group gets its own
:class:`~onecycle_jax.OneCycle`; the groups share ``total_steps`` and
``pct_start`` and so their phase ends, as PyTorch param groups under one
``OneCycleLR`` do.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import jax
import numpy as np
import optax

from onecycle_jax._build import onecycle
from onecycle_jax._onecycle import OneCycle

PER_GROUP = ("max_lr", "base_momentum", "max_momentum")


def schedules(
    max_lr: Any, total_steps: Any, kwargs: dict[str, Any]
) -> OneCycle | dict[Hashable, OneCycle]:
    """One schedule, or one per label when a per-group value is a mapping.

    Raises:
      ValueError: the mappings name different labels, or are empty.
    """
    values = {"max_lr": max_lr, **{k: v for k, v in kwargs.items() if k in PER_GROUP}}
    mappings = {k: v for k, v in values.items() if isinstance(v, Mapping)}
    if not mappings:
        return onecycle(max_lr, total_steps, **kwargs)
    name, first = next(iter(mappings.items()))
    labels = list(first)
    if not labels:
        raise ValueError(f"{name} must map at least one group label, got {first!r}")
    for other, mapping in mappings.items():
        if set(mapping) != set(labels):
            raise ValueError(
                f"{other} and {name} must map the same group labels, got "
                f"{sorted(map(repr, mapping))} and {sorted(map(repr, labels))}"
            )
    rest = {k: v for k, v in kwargs.items() if k not in mappings}
    return {
        label: onecycle(
            mappings["max_lr"][label] if "max_lr" in mappings else max_lr,
            total_steps,
            **rest,
            **{k: v[label] for k, v in mappings.items() if k != "max_lr"},
        )
        for label in labels
    }


def split(sched: OneCycle) -> dict[int, OneCycle]:
    """A schedule with per-group leaves of shape ``(groups,)``, one per index.

    Raises:
      ValueError: the schedule has no per-group values.
    """
    if sched.group_shape == ():
        raise ValueError(
            "param_labels needs per-group values, but the schedule has one "
            "value for every parameter (group shape ()): pass max_lr (or "
            "base_momentum, max_momentum) as a mapping from group label to "
            "value, or a schedule with one value per group index 0, 1, ...; "
            "without param_labels one schedule drives every parameter"
        )
    (groups,) = sched.group_shape
    return {
        index: jax.tree.map(
            lambda leaf, i=index: leaf[i] if np.ndim(leaf) == 1 else leaf, sched
        )
        for index in range(groups)
    }


def _names(found: list[Any]) -> str:
    return "; ".join("{" + ", ".join(sorted(map(str, hp))) + "}" for hp in found)


def _find(state: Any) -> list[Any]:
    if isinstance(
        state,
        optax.InjectStatefulHyperparamsState | optax.InjectHyperparamsState,
    ):
        # An injected optimizer may wrap another (optax.inject_hyperparams
        # around a chain holding oc.sgd): both count, so that is ambiguous.
        return [dict(state.hyperparams), *_find(state.inner_state)]
    if isinstance(state, optax.transforms.PartitionState):
        groups = {}
        for label, inner in state.inner_states.items():
            found = _find(inner)
            if len(found) > 1:
                raise ValueError(
                    f"opt_state's partition group {label!r} holds {len(found)} "
                    f"sets of injected hyperparameters ({_names(found)}), so "
                    "which to report is ambiguous"
                )
            if found:
                groups[label] = found[0]
        return [groups] if groups else []
    if isinstance(state, tuple | list):
        return [found for item in state for found in _find(item)]
    if isinstance(state, Mapping):
        return [found for item in state.values() for found in _find(item)]
    return []


def hyperparams(opt_state: Any) -> dict[Any, Any]:
    """The injected hyperparameters in an optimizer state, for logging.

    Finds the state of an ``optax.inject_hyperparams`` optimizer (such as
    :func:`onecycle_jax.sgd` builds) anywhere inside ``optax.chain``,
    ``optax.partition``, ``optax.masked`` or ``optax.MultiSteps`` states.
    After ``k`` updates the values are those the ``k``-th update used;
    right after ``init`` they are those the first update will use.

    Args:
      opt_state: an optimizer state.

    Returns:
      A dict from hyperparameter name (``"learning_rate"``, ``"momentum"``
      or ``"b1"``, and any fixed numeric ones) to its array; for an
      optimizer with parameter groups, a dict from group label to such a
      dict.

    Raises:
      ValueError: the state holds no injected hyperparameters, or more than
        one set outside a partition or within one partition group (one
        ``optax.inject_hyperparams`` inside another counts as two), so which
        to report is ambiguous.

    Examples:
      >>> import jax.numpy as jnp
      >>> import onecycle_jax as oc
      >>> opt = oc.sgd(0.1, total_steps=10)
      >>> state = opt.init({"w": jnp.zeros(3)})
      >>> hp = oc.hyperparams(state)
      >>> round(float(hp["learning_rate"]), 4), round(float(hp["momentum"]), 4)
      (0.004, 0.95)
    """
    found = _find(opt_state)
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} sets of"
        raise ValueError(
            f"opt_state must hold one optax.inject_hyperparams state (as "
            f"onecycle_jax's optimizers build), found {what} injected "
            f"hyperparameters in a {type(opt_state).__name__}"
            + (f" ({_names(found)})" if found else "")
        )
    return found[0]
