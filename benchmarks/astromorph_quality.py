"""astromorph 0.1.2 trained for a wall-clock budget, then its embeddings. Runs in the
astromorph benchmark venv.

Usage: python astromorph_quality.py FILELIST SECONDS OUT.npy

The same network and loop as ``astromorph_train_loop.py`` (``ByolTrainer.train_epoch``
over a batch-size-1 DataLoader, its default augmentation, learning rate 1e-4 as in its
example config), run over shuffled chunks of 100 objects until ``SECONDS`` have passed,
so the budget is kept to within one chunk. Then one forward pass per object, as its
inference pipeline does; the embeddings go to ``OUT.npy`` in file-list order. Prints
``objects_per_second`` (training) and ``epochs`` (passes over the data).
"""

import sys
import time

import numpy as np
import torch
from astromorph.datasets import FitsFilelistDataset
from torch.utils.data import DataLoader, Subset

from astromorph_network import training_trainer

CHUNK = 100


def main() -> None:
    filelist, seconds, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    trainer = training_trainer()
    dataset = FitsFilelistDataset(filelist)
    generator = torch.Generator().manual_seed(0)
    seen, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        order = torch.randperm(len(dataset), generator=generator).tolist()
        for first in range(0, len(order), CHUNK):
            chunk = Subset(dataset, order[first : first + CHUNK])
            trainer.train_epoch(DataLoader(chunk, batch_size=1), batch_size=16)
            seen += len(chunk)
            if time.perf_counter() - start >= seconds:
                break
    elapsed = time.perf_counter() - start
    trainer.eval()
    with torch.no_grad():
        vectors = [trainer(image).reshape(-1).numpy() for image in dataset.get_all_items()]
    np.save(out, np.stack(vectors).astype(np.float32))
    print(f"objects_per_second={seen / elapsed:.3f}")
    print(f"epochs={seen / len(dataset):.3f}")


if __name__ == "__main__":
    main()
