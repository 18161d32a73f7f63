"""Test-wide JAX settings, shared by the tests and the doctests."""

import jax

# Mixed-dtype arithmetic must be spelled out, as in the library itself.
jax.config.update("jax_numpy_dtype_promotion", "strict")
