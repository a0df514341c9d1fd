"""KLM, the keypoint localisation module: clean heatmaps + anchors -> this person's joint volumes.

Input: HEM's ``J`` heatmaps (after sigmoid, all people in the cube) and the 2 anchor channels of
:func:`closecap.centers.anchor_volumes` (this person's centre, the others' centres). Output: ``J``
logit volumes for *this* person; :func:`closecap.volumes.soft_argmax` turns them into joints.

The logits are ``UNet(heatmaps, anchors) + heatmap_gain[j] * heatmaps`` (a residual on HEM's output,
gain initialised to ``HEATMAP_GAIN``). Without it the soft-argmax of a freshly initialised KLM is the
cube centre (32**3 near-equal logits) and L1 must grow a peak from nothing: on the default ring rig
(batch 4, CPU) KLM's L1 was still ~29 cm after 800-1200 steps. With it KLM starts at HEM's peaks (every
person's joint in the cube) and only has to learn which peaks belong to the anchored person: 11 cm after
1200 steps (together with the wider anchors of ``ModelConfig.anchor_sigma_m``).
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
HEATMAP_GAIN = 10.0
"""Initial gain of KLM's residual on HEM's heatmaps: a peak of 1 then outweighs ~32**3 background voxels
in the soft-argmax (``exp(10) / 32**3 ~ 0.7`` per peak voxel)."""


class KLM(nn.Module):
    """``heatmaps (B, J, X, Y, Z)`` in [0, 1] + ``anchors (B, 2, X, Y, Z)`` -> joint logits ``(B, J, X, Y, Z)``."""

    def __init__(self, num_joints: int = 17, widths: Sequence[int] = (8, 16, 16), norm: str = "batch",
                 unconditional: bool = False) -> None:
        super().__init__()
        self.unconditional = bool(unconditional)
        extra = 0 if self.unconditional else NUM_ANCHOR_CHANNELS
        self.net = UNet3d(num_joints + extra, num_joints, widths, norm)
        nn.init.constant_(self.net.head.bias, PRIOR_LOGIT)  # soft-argmax ignores it; the auxiliary focal loss starts stable
        self.heatmap_gain = nn.Parameter(torch.full((num_joints,), HEATMAP_GAIN))

    def forward(self, heatmaps: torch.Tensor, anchors: torch.Tensor | None) -> torch.Tensor:
        """Logits of each joint's position; ``anchors`` is ignored (may be ``None``) when unconditional."""
        residual = self.heatmap_gain[:, None, None, None] * heatmaps
        if self.unconditional:
            return self.net(heatmaps) + residual
        if anchors is None or anchors.shape[1] != NUM_ANCHOR_CHANNELS or anchors.shape[0] != heatmaps.shape[0]:
            raise InputError(None, "anchors", f"expected (B={heatmaps.shape[0]}, 2, X, Y, Z), got "
                                              f"{None if anchors is None else tuple(anchors.shape)}")
        return self.net(torch.cat([heatmaps, anchors.to(heatmaps.dtype)], dim=1)) + residual
