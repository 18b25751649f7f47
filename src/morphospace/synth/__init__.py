"""Synthetic FITS images and cubes with known morphology, for tests, the demo and evaluation."""

from morphospace.synth.generate import LABEL_COLUMNS, class_names, render, synthesize

__all__ = ["LABEL_COLUMNS", "class_names", "render", "synthesize"]
