"""``python -m onecycle_jax``: the same command line as ``onecycle-jax``."""

from onecycle_jax.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
