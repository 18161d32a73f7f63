"""``inject``: any optax optimizer, with its learning rate and momentum on a
one cycle.

It builds an ``optax.inject_hyperparams`` optimizer: the schedule is
evaluated at the update count (0 for the first update) and the values are
kept in the optimizer state, where :func:`onecycle_jax.hyperparams` finds
them. Two choices differ from calling ``optax.inject_hyperparams`` directly:

- hyperparameters are held in the default float dtype (float32, float64
  under ``jax_enable_x64``) whatever the parameters' dtype, so a momentum of
  0.95 stays 0.95 next to bfloat16 parameters instead of becoming 0.949;
- the update itself runs in at least float32 and its results are cast back
  to the dtypes they came in, so half-precision optimizer states keep their
  dtype from step to step (a ``lax.scan`` carry must) and the arithmetic
  works under ``jax_numpy_dtype_promotion = "strict"`` (optax's arithmetic
  runs under standard promotion, with all operands already of one dtype).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from onecycle_jax import _groups, _phases
from onecycle_jax._onecycle import OneCycle

_AUTO = "auto"


def floating(x: Any) -> bool:
    """Whether ``x`` is an array or NumPy scalar of a floating dtype.

    Dtypes and scalar types (``jnp.bfloat16``, ``np.float32``) carry a
    ``dtype`` too, but as arguments such as optax's ``mu_dtype`` they are
    settings, never values to cast.
    """
    return isinstance(x, np.ndarray | np.generic | jax.Array) and jnp.issubdtype(
        x.dtype, jnp.floating
    )


def _compute_dtype(*trees: Any) -> np.dtype:
    dtypes = [np.dtype(jnp.float32)]
    for tree in trees:
        dtypes += [np.dtype(x.dtype) for x in jax.tree.leaves(tree) if floating(x)]
    return max(dtypes, key=lambda d: d.itemsize)


def _cast(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(
        lambda x: x.astype(dtype) if floating(x) and x.dtype != dtype else x, tree
    )


def _cast_like(tree: Any, like: Any) -> Any:
    return jax.tree.map(
        lambda x, y: x.astype(y.dtype) if floating(x) and x.dtype != y.dtype else x,
        tree,
        like,
    )


def _in_compute_dtype(factory: Callable[..., Any]) -> Callable[..., Any]:
    """``factory``, with each update run in ``_compute_dtype`` and cast back."""

    @functools.wraps(factory)
    def build(**hps: Any) -> optax.GradientTransformationExtraArgs:
        def inner(dtype: Any) -> optax.GradientTransformationExtraArgs:
            cast = {k: _cast(v, dtype) if floating(v) else v for k, v in hps.items()}
            return optax.with_extra_args_support(factory(**cast))

        def init_fn(params: Any) -> Any:
            return inner(_compute_dtype(params)).init(params)

        def update_fn(updates, state, params=None, **extra_args):
            dtype = _compute_dtype(updates, params)
            # optax's own arithmetic (Adam's b1**count) assumes standard
            # promotion; the casts around it keep every dtype as it was.
            with jax.numpy_dtype_promotion("standard"):
                new_updates, new_state = inner(dtype).update(
                    _cast(updates, dtype),
                    _cast(state, dtype),
                    _cast(params, dtype),
                    **extra_args,
                )
            return _cast_like(new_updates, updates), _cast_like(new_state, state)

        return optax.GradientTransformationExtraArgs(init_fn, update_fn)

    return build


def _one(
    optimizer: Callable[..., Any],
    sched: OneCycle,
    momentum: str | None,
    fixed: dict[str, Any],
    label: Hashable | None = None,
) -> optax.GradientTransformationExtraArgs:
    if sched.group_shape != () and label is not None:
        raise ValueError(
            f"sched[{label!r}] has per-group hyperparameters (group shape "
            f"{sched.group_shape}); a schedule in a mapping of groups must be "
            "single-group (one value per hyperparameter)"
        )
    if sched.group_shape != ():
        raise ValueError(
            f"sched has per-group hyperparameters (group shape {sched.group_shape}); "
            "pass param_labels too, labelling each parameter with its group index"
        )
    scheduled = {"learning_rate": sched}
    if momentum in fixed and sched.cycle_momentum:
        raise ValueError(
            f"{momentum} follows the schedule's momentum and cannot also be fixed "
            f"(got {momentum}={fixed[momentum]!r}); to hold it, build the schedule "
            "with cycle_momentum=False"
        )
    if momentum is not None and momentum not in fixed:
        scheduled[momentum] = sched.momentum
    # Callables among the fixed arguments (an optax mask) are not schedules.
    static = [name for name, value in fixed.items() if callable(value)]
    return optax.inject_hyperparams(
        _in_compute_dtype(optimizer),
        static_args=static,
        hyperparam_dtype=_phases.float_dtype(),
    )(**scheduled, **fixed)


def _momentum_name(optimizer: Callable[..., Any], momentum: Any) -> str | None:
    name = getattr(optimizer, "__name__", repr(optimizer))
    params = inspect.signature(optimizer).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    if "learning_rate" not in params and not takes_any:
        raise ValueError(
            f"optimizer must take a learning_rate argument; {name} takes "
            f"{sorted(params)}"
        )
    if momentum == _AUTO:
        return next((n for n in ("momentum", "b1") if n in params), None)
    if momentum is not None and not isinstance(momentum, str):
        raise TypeError(
            f"momentum must name the hyperparameter to cycle ('momentum', 'b1', "
            f"...) or be None, got {momentum!r}; for a fixed momentum build the "
            "schedule with cycle_momentum=False and max_momentum set to it"
        )
    if momentum is not None and momentum not in params and not takes_any:
        raise ValueError(
            f"momentum={momentum!r}, but {name} has no hyperparameter "
            f"{momentum!r}; its arguments are {sorted(params)} (or pass "
            "momentum=None to cycle only the learning rate)"
        )
    return momentum


def inject(
    optimizer: Callable[..., Any],
    sched: OneCycle | Mapping[Hashable, OneCycle],
    momentum: str | None = _AUTO,
    *,
    param_labels: Any = None,
    **fixed: Any,
) -> optax.GradientTransformationExtraArgs:
    """Any optax optimizer, with its learning rate and momentum on a cycle.

    The optimizer's ``learning_rate`` follows ``sched`` and the
    hyperparameter named by ``momentum`` follows ``sched.momentum``,
    evaluated at the update count. When the schedule has
    ``cycle_momentum=False`` that hyperparameter is held: at the value given
    in ``fixed`` if there is one (as PyTorch keeps the optimizer's own
    momentum), else at ``max_momentum``.

    Args:
      optimizer: an optax optimizer factory taking ``learning_rate``, such as
        ``optax.lion`` or ``optax.sgd``.
      sched: a :class:`~onecycle_jax.OneCycle`; for parameter groups, a
        mapping from group label to single-group schedule, or one schedule
        with per-group values whose labels are the group indices
        ``0, 1, ...``. A single-group schedule with ``param_labels`` is an
        error: the labels would have no values to pick between.
      momentum: the hyperparameter that follows ``sched.momentum``, or None
        to cycle the learning rate only; the default, ``"auto"``, picks
        ``"momentum"`` or else ``"b1"``, whichever the optimizer takes.
      param_labels: for groups, a pytree of labels matching the parameters,
        or a function of the parameters returning one, as in
        :func:`optax.partition`.
      **fixed: other arguments of ``optimizer``, held fixed.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Raises:
      ValueError: ``optimizer`` has no such hyperparameter, ``fixed`` names
        a cycled one, or groups and ``param_labels`` do not go together.
      TypeError: ``sched`` is not a ``OneCycle``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import optax
      >>> import onecycle_jax as oc
      >>> opt = oc.inject(optax.lion, oc.onecycle(1e-3, 100), momentum="b1", b2=0.98)
      >>> params = {"w": jnp.ones(2)}
      >>> state = opt.init(params)
      >>> updates, state = opt.update({"w": jnp.ones(2)}, state, params)
      >>> [round(float(u), 6) for u in updates["w"]]
      [-4e-05, -4e-05]
      >>> hp = oc.hyperparams(state)
      >>> {k: round(float(hp[k]), 5) for k in sorted(hp)}
      {'b1': 0.95, 'b2': 0.98, 'learning_rate': 4e-05, 'weight_decay': 0.001}
    """
    name = getattr(optimizer, "__name__", repr(optimizer))
    if not callable(optimizer):
        raise TypeError(f"optimizer must be an optax optimizer factory, got {name}")
    momentum = _momentum_name(optimizer, momentum)
    params = inspect.signature(optimizer).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key in fixed:
        if key == "learning_rate":
            raise ValueError(
                f"{key} follows the schedule and cannot also be fixed; "
                f"got {key}={fixed[key]!r}"
            )
        if key not in params and not takes_any:
            raise ValueError(
                f"{name} has no argument {key!r}; its arguments are {sorted(params)}"
            )
    if isinstance(sched, Mapping):
        groups = dict(sched)
    elif isinstance(sched, OneCycle):
        groups = _groups.split(sched) if param_labels is not None else None
    else:
        raise TypeError(
            f"sched must be a OneCycle (from onecycle_jax.onecycle), or a mapping "
            f"from group label to one, got {type(sched).__name__}"
        )
    for label, group in (groups or {}).items():
        if not isinstance(group, OneCycle):
            raise TypeError(
                f"sched[{label!r}] must be a OneCycle, got {type(group).__name__}"
            )
    if groups is None:
        return _one(optimizer, sched, momentum, fixed)
    if param_labels is None:
        raise ValueError(
            "sched gives one schedule per group label; pass param_labels too, a "
            "pytree of labels (or a function of the params returning one)"
        )
    partitioned = optax.partition(
        {
            label: _one(optimizer, g, momentum, fixed, label)
            for label, g in groups.items()
        },
        param_labels,
    )

    def init_fn(params: Any) -> Any:
        # optax.partition ignores a group no parameter carries; a schedule
        # given for it is most likely a misspelt label.
        labels = param_labels(params) if callable(param_labels) else param_labels
        used = set(jax.tree.leaves(labels))
        unused = [label for label in groups if label not in used]
        if unused:
            raise ValueError(
                f"no parameter is labelled {', '.join(map(repr, unused))}, though "
                f"sched has a schedule for it; param_labels uses "
                f"{', '.join(sorted(map(repr, used)))}"
            )
        return partitioned.init(params)

    return optax.GradientTransformationExtraArgs(init_fn, partitioned.update)
