"""How wide a person's crop is: its side over the person's tight box (the "crop margin").

Every data source stores its boxes at ``STORED_MARGIN`` (LSP: the labelled joints' extent ×
1.3; ``predict``: the detected box × 1.3). A network trained at another margin (the training
setting ``crop_margin``, saved with its weights) sees every box widened by
``margin / STORED_MARGIN``: in training, evaluation and ``predict`` alike.
"""

from __future__ import annotations

import dataclasses

from openhmr.data.formats import Annotations
from openhmr.geometry.crop import STORED_MARGIN


def reframed(annotations: Annotations, margin: float) -> Annotations:
    """``annotations`` with each box_size (N,) scaled from ``STORED_MARGIN`` to ``margin``
    (centres unchanged); the same object when the margin is the stored one."""
    if margin == STORED_MARGIN:
        return annotations
    return dataclasses.replace(annotations, box_size=annotations.box_size * (margin / STORED_MARGIN))
