"""Training: the Trainer, its optimisers and schedule, resumable checkpoints and DDP set-up.

The trained model's files are written by :func:`morphospace.models.save_model`.
"""

from morphospace._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "morphospace.train.trainer": ["TrainResult", "Trainer", "weights_digest"],
    },
)
