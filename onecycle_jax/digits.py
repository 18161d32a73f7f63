"""A small, real training problem: an MLP on scikit-learn's bundled digits.

The demo, the sweeps, the LR range test and the benchmarks all train this
model, so they share one definition here. The data ship with scikit-learn
(1,797 8x8 images, no download); scikit-learn comes with the ``examples``
extra and is imported only when the data are loaded.

Everything below the loader is a pure function of arrays, so a whole
training run is one ``lax.scan`` that can be jitted and vmapped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax


class Data(NamedTuple):
    """Train and test splits: features in [0, 1], integer labels."""

    x_train: jax.Array
    y_train: jax.Array
    x_test: jax.Array
    y_test: jax.Array


def load(seed: int = 0, test_fraction: float = 0.2) -> Data:
    """Loads the digits, shuffled by ``seed`` and split into train and test.

    Examples:
      >>> from onecycle_jax import digits
      >>> data = digits.load()
      >>> data.x_train.shape, data.x_test.shape
      ((1438, 64), (359, 64))
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.asarray(bunch.data, np.float32) / 16.0
    y = np.asarray(bunch.target, np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = round(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return Data(
        jnp.asarray(x[train]),
        jnp.asarray(y[train]),
        jnp.asarray(x[test]),
        jnp.asarray(y[test]),
    )


def init(key: jax.Array, sizes: tuple[int, ...] = (64, 64, 10)) -> list[dict]:
    """He-initialised MLP parameters: a list of ``{"w", "b"}`` layers."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {
            "w": jax.random.normal(k, (m, n)) * jnp.sqrt(2.0 / m),
            "b": jnp.zeros((n,)),
        }
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def apply(params: list[dict], x: jax.Array) -> jax.Array:
    """Logits of the MLP: ReLU hidden layers, a linear last layer."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss(params: list[dict], x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy."""
    logits = apply(params, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def accuracy(params: list[dict], x: jax.Array, y: jax.Array) -> jax.Array:
    """Fraction of ``x`` classified as ``y``."""
    return jnp.mean(jnp.argmax(apply(params, x), axis=-1) == y)


def batch_indices(key: jax.Array, n: int, batch_size: int, steps: int) -> jax.Array:
    """Indices of ``steps`` minibatches: shuffled epochs, concatenated.

    Returns an int32 array of shape ``(steps, batch_size)``.
    """
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    keys = jax.random.split(key, epochs)
    orders = jax.vmap(lambda k: jax.random.permutation(k, n)[: per_epoch * batch_size])(
        keys
    )
    return orders.reshape(-1, batch_size)[:steps]


def train(
    optimizer: optax.GradientTransformation,
    params: list[dict],
    data: Data,
    indices: jax.Array,
) -> tuple[list[dict], Any, jax.Array]:
    """Trains with ``optimizer``, one update per row of ``indices``.

    A pure function: jit it, or vmap it over optimizers built from a sweep.

    Returns:
      ``(params, opt_state, losses)``, with the training loss of each step.
    """

    def step(carry, rows):
        params, state = carry
        value, grads = jax.value_and_grad(loss)(
            params, data.x_train[rows], data.y_train[rows]
        )
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    (params, state), losses = jax.lax.scan(
        step, (params, optimizer.init(params)), indices
    )
    return params, state, losses
