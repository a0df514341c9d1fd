"""KLM, the keypoint localisation module: clean heatmaps + anchors -> this person's joint volumes.

Input: HEM's ``J`` heatmaps (after sigmoid, all people in the cube) and the 2 anchor channels of
:func:`closecap.centers.anchor_volumes` (this person's centre, the others' centres). Output: ``J``
logit volumes for *this* person; :func:`closecap.volumes.soft_argmax` turns them into joints.
With ``unconditional=True`` the anchors are dropped (VoxelPose-style ablation, otherwise identical).

Example:
    >>> import torch
    >>> klm = KLM(num_joints=17, widths=(4, 8))
    >>> klm(torch.zeros(1, 17, 8, 8, 8), torch.zeros(1, 2, 8, 8, 8)).shape
    torch.Size([1, 17, 8, 8, 8])
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from closecap.errors import InputError
from closecap.model.blocks import UNet3d
from closecap.model.hem import PRIOR_LOGIT

NUM_ANCHOR_CHANNELS = 2


class KLM(nn.Module):
    """``heatmaps (B, J, X, Y, Z)`` in [0, 1] + ``anchors (B, 2, X, Y, Z)`` -> joint logits ``(B, J, X, Y, Z)``."""

    def __init__(self, num_joints: int = 17, widths: Sequence[int] = (8, 16, 16), norm: str = "batch",
                 unconditional: bool = False) -> None:
        super().__init__()
        self.unconditional = bool(unconditional)
        extra = 0 if self.unconditional else NUM_ANCHOR_CHANNELS
        self.net = UNet3d(num_joints + extra, num_joints, widths, norm)
        nn.init.constant_(self.net.head.bias, PRIOR_LOGIT)  # soft-argmax ignores it; the auxiliary focal loss starts stable

    def forward(self, heatmaps: torch.Tensor, anchors: torch.Tensor | None) -> torch.Tensor:
        """Logits of each joint's position; ``anchors`` is ignored (may be ``None``) when unconditional."""
        if self.unconditional:
            return self.net(heatmaps)
        if anchors is None or anchors.shape[1] != NUM_ANCHOR_CHANNELS or anchors.shape[0] != heatmaps.shape[0]:
            raise InputError(None, "anchors", f"expected (B={heatmaps.shape[0]}, 2, X, Y, Z), got "
                                              f"{None if anchors is None else tuple(anchors.shape)}")
        return self.net(torch.cat([heatmaps, anchors.to(heatmaps.dtype)], dim=1))
