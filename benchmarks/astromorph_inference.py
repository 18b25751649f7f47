"""astromorph 0.1.2's inference, timed. Runs inside the astromorph benchmark venv.

Usage: python astromorph_inference.py FILELIST WORKDIR

Saves a 1-channel ``n_layer_resnet`` (cut after ``layer2``) ``ByolTrainer`` the way
astromorph's training pipeline does (``torch.save`` of the whole object), then times what
its inference pipeline (``pipeline_02_inference.main``) does up to the embeddings: read
every file with ``FitsFilelistDataset.get_all_items``, ``torch.load`` the model (which
PyTorch >= 2.6 allows only with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``), then one forward
pass per object at its native size. Prints ``objects_per_second=<rate>`` and
``model_objects_per_second=<rate>`` (forward passes alone).
"""

import os
import sys
import time

import torch
from astromorph.datasets import FitsFilelistDataset

from astromorph_network import one_channel_trainer


def main() -> None:
    filelist, workdir = sys.argv[1], sys.argv[2]
    trainer = one_channel_trainer()
    model_path = os.path.join(workdir, "astromorph_model.pt")
    torch.save(trainer, model_path)

    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    start = time.perf_counter()
    dataset = FitsFilelistDataset(filelist)
    images = dataset.get_all_items()
    learner = torch.load(model_path)
    learner.eval()
    model_start = time.perf_counter()
    with torch.no_grad():
        embeddings = torch.cat([learner(image) for image in images])
    end = time.perf_counter()
    assert embeddings.shape[0] == len(images)
    print(f"objects_per_second={len(images) / (end - start):.3f}")
    print(f"model_objects_per_second={len(images) / (end - model_start):.3f}")


if __name__ == "__main__":
    main()
