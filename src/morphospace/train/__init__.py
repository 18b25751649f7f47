"""Training: the Trainer, its optimisers and schedule, safe checkpoints and DDP set-up."""

from morphospace.train.checkpoint import load_model, read_model_info, save_model
from morphospace.train.trainer import Trainer, TrainResult, weights_digest

__all__ = [
    "TrainResult",
    "Trainer",
    "load_model",
    "read_model_info",
    "save_model",
    "weights_digest",
]
