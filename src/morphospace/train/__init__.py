"""Training: the Trainer, its optimisers and schedule, resumable checkpoints and DDP set-up.

The trained model's files are written by :func:`morphospace.models.save_model`.
"""

from morphospace.train.trainer import Trainer, TrainResult, weights_digest

__all__ = ["TrainResult", "Trainer", "weights_digest"]
