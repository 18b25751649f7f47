"""astromorph 0.1.2's own training loop, timed. Runs inside the astromorph benchmark venv.

Usage: python astromorph_train_loop.py FILELIST N_OBJECTS

Builds what astromorph's training pipeline builds (``n_layer_resnet`` cut after
``layer2``, ``ByolTrainer`` with its default augmentations, ``MinMaxNorm``, a
``FitsFilelistDataset`` in a batch-size-1 DataLoader) and times ``ByolTrainer.train_epoch``.

Two changes, both forced: ResNet's first convolution takes 1 channel instead of 3, so both
systems train the same 1-channel network; and the augmentation is ``ByolTrainer``'s
default (flip, any rotation, blur with p = 0.2) with its ``RandomApply`` given a list, as
torchvision requires: 0.1.2 passes the bare ``GaussianBlur`` and crashes the first time
the blur is drawn. (Its training pipeline's own augmentation adds ``ColorJitter`` and
``RandomGrayscale``, which need 3-channel images.) Prints ``objects_per_second=<rate>``.
"""

import sys
import time

from astromorph.datasets import FitsFilelistDataset
from torch.utils.data import DataLoader, Subset

from astromorph_network import training_trainer


def main() -> None:
    filelist, n_objects = sys.argv[1], int(sys.argv[2])
    trainer = training_trainer()
    dataset = FitsFilelistDataset(filelist)
    warm_up = DataLoader(Subset(dataset, range(8)), batch_size=1, shuffle=True)
    trainer.train_epoch(warm_up, batch_size=4)
    loader = DataLoader(Subset(dataset, range(n_objects)), batch_size=1, shuffle=True)
    start = time.perf_counter()
    trainer.train_epoch(loader, batch_size=16)
    print(f"objects_per_second={n_objects / (time.perf_counter() - start):.3f}")


if __name__ == "__main__":
    main()
