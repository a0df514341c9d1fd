"""HEM, the heatmap estimation module: noisy unprojected 2D evidence -> clean 3D joint heatmaps.

Person-agnostic: in a person's cube it answers "where is *a* joint of type j", for everyone in the cube.
Trained with the focal loss against 3D Gaussians of all people's joints (see :mod:`closecap.train`).

Example:
    >>> import torch
    >>> hem = HEM(num_joints=17, widths=(4, 8))
    >>> hem(torch.zeros(1, 17, 8, 8, 8)).shape
    torch.Size([1, 17, 8, 8, 8])
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from closecap.model.blocks import UNet3d

PRIOR_LOGIT = -2.19
"""Initial bias of the heatmap logits: sigmoid(-2.19) = 0.1, as CornerNet/CenterNet, for a stable focal loss."""
INPUT_GAIN = 6.0
"""Initial gain of HEM's input skip: where all views agree (mean heatmap ~0.7) the logit starts near +2."""


class HEM(nn.Module):
    """``unprojected (B, J, X, Y, Z)`` (mean 2D heatmap values) -> heatmap logits ``(B, J, X, Y, Z)``.

    The logits are ``UNet(unprojected) + input_gain[j] * unprojected`` (an input skip per joint, initialised
    to ``INPUT_GAIN``): the unprojected evidence already peaks near the joints, so HEM starts from it and
    learns the correction (suppressing ghosts, filling occluded views) instead of relearning it.
    """

    def __init__(self, num_joints: int = 17, widths: Sequence[int] = (8, 16, 16), norm: str = "batch") -> None:
        super().__init__()
        self.net = UNet3d(num_joints, num_joints, widths, norm)
        nn.init.constant_(self.net.head.bias, PRIOR_LOGIT)  # start near "no joint here" (CornerNet's prior)
        self.input_gain = nn.Parameter(torch.full((num_joints,), INPUT_GAIN))

    def forward(self, unprojected: torch.Tensor) -> torch.Tensor:
        """Logits; ``torch.sigmoid`` of them is the 3D heatmap in [0, 1]."""
        return self.net(unprojected) + self.input_gain[:, None, None, None] * unprojected
