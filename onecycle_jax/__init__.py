"""onecycle-jax: exact, pure one-cycle learning-rate and momentum schedules."""

from onecycle_jax._build import onecycle as onecycle
from onecycle_jax._build import onecycle_lr as onecycle_lr
from onecycle_jax._build import onecycle_momentum as onecycle_momentum
from onecycle_jax._grid import grid as grid
from onecycle_jax._groups import hyperparams as hyperparams
from onecycle_jax._inject import inject as inject
from onecycle_jax._onecycle import OneCycle as OneCycle
from onecycle_jax._optim import adam as adam
from onecycle_jax._optim import adamw as adamw
from onecycle_jax._optim import sgd as sgd
from onecycle_jax._range_result import RangeTestResult as RangeTestResult
from onecycle_jax._range_test import lr_range_test as lr_range_test
from onecycle_jax._validate import check as check

__version__ = "0.1.0"

__all__ = [
    "OneCycle",
    "RangeTestResult",
    "adam",
    "adamw",
    "check",
    "grid",
    "hyperparams",
    "inject",
    "lr_range_test",
    "onecycle",
    "onecycle_lr",
    "onecycle_momentum",
    "sgd",
]
