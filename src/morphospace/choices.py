"""Choices and defaults shared by several layers and the command line, declared once.

Kept free of heavy imports, so that ``morphospace --help`` shows them without loading
astropy or torch.
"""

from __future__ import annotations

from typing import Literal, get_args

#: What to do with a file that cannot be used: list it and go on, or stop at it.
OnError = Literal["skip", "fail"]
ON_ERROR_CHOICES: tuple[str, ...] = get_args(OnError)
#: Reading for training, embedding or inspection lists bad files and goes on.
ON_ERROR: OnError = "skip"

#: Objects smaller than this on either side cannot pass through the backbones' pooling.
MIN_SIDE = 16

#: Objects per forward pass when embedding.
EMBED_BATCH_SIZE = 256
