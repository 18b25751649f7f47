"""TensorBoard projector export (as astromorph wrote): embeddings, metadata and a sprite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

__all__ = ["SPRITE_LIMIT", "export_projector"]

SPRITE_LIMIT = 8192  # TensorBoard's largest sprite side, px


def export_projector(
    folder: Path, embeddings: np.ndarray, metadata: pd.DataFrame, thumbs: np.ndarray
) -> Path:
    """Write a projector log to ``folder``; view it with ``tensorboard --logdir folder``."""
    from torch.utils.tensorboard import SummaryWriter

    n = len(embeddings)
    side = thumbs.shape[-1]
    per_row = int(np.ceil(np.sqrt(n)))
    if per_row * side > SPRITE_LIMIT:  # shrink thumbnails so the sprite stays loadable
        side = max(4, SPRITE_LIMIT // per_row)
    images = torch.from_numpy(thumbs).float().div(255).unsqueeze(1)
    if side != thumbs.shape[-1]:
        images = torch.nn.functional.interpolate(images, size=(side, side), mode="area")
    header = list(metadata.columns)
    rows = [[str(v).replace("\t", " ") for v in row] for row in metadata.itertuples(index=False)]
    writer = SummaryWriter(log_dir=str(folder))
    try:
        writer.add_embedding(
            torch.tensor(embeddings, dtype=torch.float32),
            metadata=rows,
            metadata_header=header,
            label_img=images,
            tag="morphospace",
        )
    finally:
        writer.close()
    return folder
