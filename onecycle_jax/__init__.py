"""onecycle-jax: exact, pure one-cycle learning-rate and momentum schedules."""

from onecycle_jax._onecycle import OneCycle as OneCycle
from onecycle_jax._onecycle import onecycle as onecycle
from onecycle_jax._onecycle import onecycle_lr as onecycle_lr
from onecycle_jax._onecycle import onecycle_momentum as onecycle_momentum
from onecycle_jax._validate import check as check

__version__ = "0.1.0"

__all__ = [
    "OneCycle",
    "check",
    "onecycle",
    "onecycle_lr",
    "onecycle_momentum",
]
