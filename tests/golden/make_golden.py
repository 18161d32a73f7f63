"""Records PyTorch's OneCycleLR, step by step, as the golden values of the tests.

For each configuration in ``CONFIGS`` this steps a real
``torch.optim.lr_scheduler.OneCycleLR`` (torch 2.13.0, CPU) and records, at
every step it defines, each parameter group's learning rate and momentum (SGD's
``momentum``, or ``betas[0]`` for Adam). ``tests/test_golden.py`` compares
``onecycle_jax`` with the file it writes, and needs no torch to run.

Count ``k`` of a record is PyTorch's ``last_epoch == k + last_epoch + 1``: a
configuration with ``last_epoch=k`` is recorded from a real resumed scheduler
(a fresh one stepped ``k`` times, whose optimizer, carrying ``initial_lr`` and
the other keys, is handed to a new ``OneCycleLR(..., last_epoch=k)``), and the
script checks that this equals the fresh scheduler's own later steps.

Where a step is undefined in PyTorch (a phase of zero width divides by zero),
the record says so in ``undefined_steps``: the steps after it are recorded
from a scheduler resumed just past it.

Regenerate (from the repository root, with ``pip install torch==2.13.0``)::

    python tests/golden/make_golden.py

which rewrites ``tests/golden/onecycle_torch.json``. Pass ``--check`` to
compare with the committed file instead of writing it.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("onecycle_torch.json")
TORCH_VERSION = "2.13.0"


def _config(name: str, optimizer: str = "sgd", groups: int = 1, **kwargs: Any):
    return {"name": name, "optimizer": optimizer, "groups": groups, "kwargs": kwargs}


# Each entry: the arguments of onecycle_jax.onecycle (and of OneCycleLR), the
# optimizer whose momentum is read, and the number of parameter groups.
CONFIGS = [
    _config("cos", total_steps=100),
    _config("linear", total_steps=100, anneal_strategy="linear"),
    _config("three_cos", total_steps=100, three_phase=True),
    _config(
        "three_linear", total_steps=100, three_phase=True, anneal_strategy="linear"
    ),
    _config("three_half", total_steps=20, three_phase=True, pct_start=0.5),
    _config("groups_lr", groups=3, total_steps=40, max_lr=[0.1, 1.0, 3.0]),
    _config(
        "groups_momenta",
        groups=3,
        total_steps=40,
        max_lr=0.5,
        base_momentum=[0.8, 0.85, 0.9],
        max_momentum=[0.9, 0.95, 0.99],
    ),
    _config(
        "groups_three_linear",
        groups=2,
        total_steps=33,
        max_lr=[0.02, 0.7],
        base_momentum=[0.7, 0.8],
        max_momentum=[0.95, 0.9],
        three_phase=True,
        anneal_strategy="linear",
        pct_start=0.4,
    ),
    _config("adam_cos", optimizer="adam", total_steps=60, max_lr=3e-3),
    _config(
        "adam_three_groups",
        optimizer="adam",
        groups=2,
        total_steps=45,
        max_lr=[1e-3, 1e-2],
        three_phase=True,
        base_momentum=0.8,
        max_momentum=0.9,
    ),
    _config(
        "adam_linear",
        optimizer="adam",
        total_steps=30,
        anneal_strategy="linear",
        base_momentum=0.8,
        max_momentum=0.9,
    ),
    _config("no_cycle_sgd", total_steps=25, cycle_momentum=False),
    _config("no_cycle_adam", optimizer="adam", total_steps=25, cycle_momentum=False),
    _config("resume_0", total_steps=50, last_epoch=0),
    _config("resume_10", total_steps=50, last_epoch=10),
    _config("resume_three_29", total_steps=60, three_phase=True, last_epoch=29),
    _config("resume_last", total_steps=50, last_epoch=48, anneal_strategy="linear"),
    _config(
        "resume_groups_adam",
        optimizer="adam",
        groups=2,
        total_steps=40,
        max_lr=[0.01, 0.1],
        last_epoch=7,
    ),
    _config("epochs", epochs=4, steps_per_epoch=25),
    _config(
        "epochs_three_linear",
        epochs=3,
        steps_per_epoch=7,
        three_phase=True,
        anneal_strategy="linear",
    ),
    _config("total_1", total_steps=1),
    _config("total_2", total_steps=2),
    _config("total_3", total_steps=3),
    _config("total_4", total_steps=4),
    _config("total_5", total_steps=5),
    _config("total_3_three", total_steps=3, three_phase=True),
    _config(
        "total_5_three_linear",
        total_steps=5,
        three_phase=True,
        anneal_strategy="linear",
        pct_start=0.45,
    ),
    _config("pct_0", total_steps=20, pct_start=0.0),
    _config("pct_1", total_steps=20, pct_start=1.0),
    _config("pct_1_linear", total_steps=7, pct_start=1.0, anneal_strategy="linear"),
    _config("skip_warmup", total_steps=50, pct_start=0.01),
    _config("skip_warmup_three", total_steps=50, pct_start=0.015, three_phase=True),
    _config("warmup_just_over_1", total_steps=20, pct_start=0.0525),
    _config("peak_on_step", total_steps=8, pct_start=0.25),
    _config("odd_divs", total_steps=77, div_factor=3.7, final_div_factor=1.3e7),
    _config("flat", total_steps=12, div_factor=1.0, final_div_factor=1.0),
    _config("warm_down", total_steps=15, div_factor=0.5, anneal_strategy="linear"),
    _config("tiny_huge_lr", groups=2, total_steps=30, max_lr=[1e-8, 1e3]),
    _config("cos_1000", total_steps=1000),
    _config(
        "three_linear_1000",
        total_steps=1000,
        three_phase=True,
        anneal_strategy="linear",
        pct_start=0.123,
    ),
    # Undefined in PyTorch at one step (a phase of zero width).
    _config("zero_warmup", total_steps=10, pct_start=0.1),
    _config("zero_warmup_20", total_steps=20, pct_start=0.05, anneal_strategy="linear"),
    _config("zero_warmup_three", total_steps=10, pct_start=0.1, three_phase=True),
    _config("zero_three_half", total_steps=2, pct_start=0.5, three_phase=True),
    _config("zero_total_1", total_steps=1, pct_start=1.0),
]


def _optimizer(torch: Any, config: dict[str, Any]) -> Any:
    # Built with max_momentum, which is what an optimizer keeps throughout
    # when cycle_momentum=False (OneCycleLR then leaves momentum alone).
    momenta = config["kwargs"].get("max_momentum", 0.95)
    if not isinstance(momenta, list):
        momenta = [momenta] * config["groups"]
    adam = config["optimizer"] == "adam"
    params = [
        {
            "params": [torch.nn.Parameter(torch.zeros(1))],
            **({"betas": (m, 0.999)} if adam else {"momentum": m}),
        }
        for m in momenta
    ]
    if adam:
        return torch.optim.Adam(params, lr=0.1)
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def _read(optimizer: Any) -> tuple[list[float], list[float]]:
    lrs, momenta = [], []
    for group in optimizer.param_groups:
        lrs.append(float(group["lr"]))
        momenta.append(
            float(group["betas"][0] if "betas" in group else group["momentum"])
        )
    return lrs, momenta


def _torch_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config["kwargs"].items() if k != "last_epoch"}


def _run(torch: Any, config: dict[str, Any], resume_at: int, fresh: bool) -> dict:
    """Steps a scheduler from PyTorch's step ``resume_at + 1`` to the last.

    ``resume_at == -1`` is a new scheduler. Otherwise the scheduler resumes with
    ``last_epoch=resume_at`` on the optimizer of a run that took ``resume_at``
    steps (``fresh=True``), or on one given the param-group keys PyTorch
    stores, computed with its arithmetic (``fresh=False``, for configurations
    whose earlier steps PyTorch cannot take).
    """
    from torch.optim.lr_scheduler import OneCycleLR

    kwargs = _torch_kwargs(config)
    optimizer = _optimizer(torch, config)
    if resume_at >= 0 and fresh:
        first = OneCycleLR(optimizer, **kwargs)
        for _ in range(resume_at):
            optimizer.step()
            first.step()
    elif resume_at >= 0:
        for group, values in zip(
            optimizer.param_groups, _group_values(config), strict=True
        ):
            group.update(values)
    scheduler = OneCycleLR(optimizer, **kwargs, last_epoch=resume_at)
    lrs, momenta = [], []
    while True:
        lr, momentum = _read(optimizer)
        lrs.append(lr)
        momenta.append(momentum)
        if scheduler.last_epoch >= _total(config) - 1:
            break
        optimizer.step()
        scheduler.step()
    return {"first_step": resume_at + 1, "lr": lrs, "momentum": momenta}


def _group_values(config: dict[str, Any]) -> list[dict[str, float]]:
    # What OneCycleLR.__init__ stores when last_epoch == -1, in its arithmetic.
    kwargs = config["kwargs"]
    groups = config["groups"]

    def per_group(name: str, default: float) -> list[float]:
        value = kwargs.get(name, default)
        return list(value) if isinstance(value, list) else [value] * groups

    out = []
    for max_lr, base, high in zip(
        per_group("max_lr", 0.1),
        per_group("base_momentum", 0.85),
        per_group("max_momentum", 0.95),
        strict=True,
    ):
        initial = max_lr / kwargs.get("div_factor", 25.0)
        out.append(
            {
                "initial_lr": initial,
                "max_lr": max_lr,
                "min_lr": initial / kwargs.get("final_div_factor", 1e4),
                "base_momentum": base,
                "max_momentum": high,
            }
        )
    return out


def record(torch: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The golden record of one configuration."""
    entry = json.loads(json.dumps(config))
    entry["kwargs"].setdefault("max_lr", 0.1)
    last_epoch = entry["kwargs"].get("last_epoch", -1)
    total = _total(entry)
    undefined = []
    resume_at, fresh = last_epoch, True
    while resume_at + 1 < total:
        try:
            run = _run(torch, entry, resume_at, fresh)
            break
        except ZeroDivisionError:
            # PyTorch's step resume_at + 1 divides by zero: go on past it.
            undefined.append(resume_at + 1)
            resume_at, fresh = resume_at + 1, False
    else:
        run = {"first_step": total, "lr": [], "momentum": []}
    if last_epoch >= 0 and not undefined:
        # A resumed run continues the curve of an uninterrupted one (where
        # PyTorch can take the uninterrupted one's first step).
        try:
            whole = _run(torch, entry, -1, True)
        except ZeroDivisionError:
            whole = None
        if whole is not None:
            shift = last_epoch + 1
            assert whole["lr"][shift:] == run["lr"], entry["name"]
            assert whole["momentum"][shift:] == run["momentum"], entry["name"]
    # Stored as [group][count]: shorter, and what the tests index.
    entry.update(
        first_step=run["first_step"],
        undefined_steps=undefined,
        lr=[list(x) for x in zip(*run["lr"], strict=True)],
        momentum=[list(x) for x in zip(*run["momentum"], strict=True)],
    )
    return entry


def _total(config: dict[str, Any]) -> int:
    kwargs = config["kwargs"]
    return kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()

    import torch

    if torch.__version__.split("+")[0] != TORCH_VERSION:
        parser.error(f"needs torch=={TORCH_VERSION}, found {torch.__version__}")
    records = [record(torch, config) for config in CONFIGS]
    for entry in records:
        for values in entry["lr"] + entry["momentum"]:
            assert all(math.isfinite(v) for v in values), entry["name"]
    text = json.dumps({"torch": torch.__version__, "configs": records}, indent=None)
    text = text.replace('{"name"', '\n{"name"') + "\n"
    if args.check:
        same = json.loads(OUTPUT.read_text()) == json.loads(text)
        print("golden file is up to date" if same else "golden file differs")
        raise SystemExit(0 if same else 1)
    OUTPUT.write_text(text)
    print(f"wrote {len(records)} configurations to {OUTPUT} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
