"""Keras 3 ``fit`` under ``MultiWorkerMirroredStrategy``: the fixes it needs (keras-team/keras#20585).

Keras 3 (checked with 3.15.1 and TensorFlow 2.21) does not support a
multi-worker strategy in ``Model.fit``:

* before the first step it all-reduces one distributed ``(x, y)`` batch to
  build the metrics, loss and optimizer symbolically, which fails with
  "Attempt to convert a value (PerReplica...)";
* every step averages its logs across workers with ``axis=0``, which fails on
  scalars with "Invalid reduction dimension 0";
* ``BatchNormalization``'s moving statistics are updated by each worker from
  its own share of the batch and never aggregated, so the workers' models
  (and the chief's saved bundle) drift apart.

:func:`multi_worker_fit` fixes all three for the duration of one ``fit``, and
does nothing unless the strategy spans several processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .strategy import is_multi_worker

__all__ = ["multi_worker_fit", "batch_norm_statistics"]


def batch_norm_statistics(model: Any) -> list[Any]:
    """The moving means and variances of every ``BatchNormalization`` layer of ``model``, nested models included.

    Args:
        model: A Keras model (or layer).

    Returns:
        The variables, in the same order on every worker (the layers' order).
    """
    from .._tf import keras_module

    keras = keras_module()
    found: list[Any] = []
    seen: set[int] = set()
    pending = list(getattr(model, "layers", []))
    while pending:
        layer = pending.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, keras.layers.BatchNormalization):
            found += [layer.moving_mean, layer.moving_variance]
        pending += list(getattr(layer, "layers", []))
    return found


def _statistics_averager(strategy: Any, variables: list[Any]) -> Any:
    """A Keras callback that, after every epoch, sets ``variables`` to their mean over all replicas of ``strategy``.

    It runs before the callbacks that save the model, so every worker (and
    the chief's checkpoint) holds the same statistics. Batch-norm moving
    averages are linear in the batch statistics, so their mean over the
    replicas is what a per-step mean over the replicas would give.
    """
    from .._tf import keras_module, tf_module

    keras, tf = keras_module(), tf_module()

    @tf.function
    def average() -> None:
        def replica_means() -> Any:
            ctx = tf.distribute.get_replica_context()
            return ctx.all_reduce("MEAN", [tf.identity(v.value) for v in variables])

        means = strategy.run(replica_means)
        for variable, mean in zip(variables, means):
            variable.assign(strategy.experimental_local_results(mean)[0])

    class AverageStatistics(keras.callbacks.Callback):  # type: ignore[name-defined]
        """Average the batch-norm moving statistics over the workers after every epoch."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            average()

    return AverageStatistics()


@contextmanager
def multi_worker_fit(fit_model: Any, train_tf: Any) -> Iterator[list[Any]]:
    """Let ``fit_model.fit`` (and its validation) run under a multi-worker strategy; see the module docs.

    In a multi-worker run this builds the model's metrics, loss and optimizer
    from one local batch (in the strategy's scope) and skips Keras's own
    build step, averages each step's logs over the replicas element-wise
    (``axis=None``, as Keras does within one process), and yields a callback
    that averages the batch-norm statistics after every epoch. Otherwise it
    changes nothing and yields no callbacks.

    Args:
        fit_model: The compiled Keras model that is fitted.
        train_tf: Its training ``tf.data`` pipeline (one batch is read).

    Yields:
        Callbacks to run first in ``fit`` (before any that save the model).
    """
    strategy: Any = getattr(fit_model, "distribute_strategy", None)
    if not is_multi_worker(strategy):
        yield []
        return
    from keras.src.backend.tensorflow import trainer as tf_trainer

    from .._tf import tf_module

    tf = tf_module()
    keras_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str = "auto") -> Any:
        if reduction in ("auto", "mean") and is_multi_worker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return keras_reduce(values, strategy, reduction)

    with strategy.scope():
        fit_model._symbolic_build(data_batch=next(iter(train_tf)))
    fit_model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None  # all built above
    tf_trainer.reduce_per_replica = reduce_per_replica
    statistics = batch_norm_statistics(fit_model)
    try:
        yield [_statistics_averager(strategy, statistics)] if statistics else []
    finally:
        tf_trainer.reduce_per_replica = keras_reduce
        del fit_model._maybe_symbolic_build
