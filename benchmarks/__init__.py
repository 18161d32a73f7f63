"""Benchmarks of onecycle-jax against PyTorch's OneCycleLR and optax's onecycle.

Run ``python benchmarks/run.py --quick`` (CI) or ``python benchmarks/run.py``
(the full run, written to BENCHMARKS.md with ``--out``). Every figure is a
ratio of contestants measured side by side in one run.
"""
