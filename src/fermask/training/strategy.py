"""``tf.distribute`` strategies: by name, their scope, and which process writes the run's files."""

from __future__ import annotations

from typing import Any

from ..errors import FermaskError

__all__ = ["resolve_strategy", "strategy_scope", "is_chief", "is_multi_worker"]


class _NullScope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def resolve_strategy(strategy: Any) -> Any:
    """A ``tf.distribute`` strategy from a name (``"mirrored"``, ``"multi_worker_mirrored"``), or as given."""
    if strategy is None or not isinstance(strategy, str):
        return strategy
    from .._tf import tf_module

    tf = tf_module()
    key = strategy.strip().lower().replace("-", "_")
    if key == "mirrored":
        return tf.distribute.MirroredStrategy()
    if key in ("multi_worker", "multi_worker_mirrored", "multiworker"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if key in ("default", "none"):
        return tf.distribute.get_strategy()
    raise FermaskError(
        f"unknown strategy {strategy!r}; pass 'mirrored', 'multi_worker_mirrored' or a tf.distribute.Strategy object"
    )


def strategy_scope(strategy: Any) -> Any:
    """The strategy's scope, or a scope that does nothing when there is no strategy."""
    return strategy.scope() if strategy is not None else _NullScope()


def is_chief(strategy: Any) -> bool:
    """Whether this process writes the run's files (only one worker of a multi-worker run does)."""
    if strategy is None:
        return True
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", 0) or 0
    if task_type in (None, "chief"):
        return True
    if task_type == "worker" and task_id == 0:
        return "chief" not in resolver.cluster_spec().as_dict()
    return False


def is_multi_worker(strategy: Any) -> bool:
    """Whether the strategy spans several processes (a ``TF_CONFIG`` cluster of more than one chief/worker task).

    Args:
        strategy: A ``tf.distribute`` strategy, or ``None``.

    Returns:
        ``True`` for a multi-worker strategy whose cluster has two or more
        ``chief``/``worker`` tasks; ``False`` otherwise (one process).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return False
    jobs = resolver.cluster_spec().as_dict()
    return sum(len(jobs.get(job, ())) for job in ("chief", "worker")) > 1
