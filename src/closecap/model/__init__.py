"""The conditional volumetric network: HEM (clean 3D heatmaps) then KLM (this person's joints).

:class:`VolumetricNet` runs, for a batch of person cubes, ``HEM -> sigmoid -> (temporal mask) -> KLM
with anchors -> soft-argmax``. Its settings (grid, widths, the 2D heatmap rendering it was trained with)
live in :class:`ModelConfig`, saved with every checkpoint. ``forward`` returns predictions only; the
losses are in :mod:`closecap.train`.

Example:
    >>> import torch
    >>> config = ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8))
    >>> net = VolumetricNet(config).eval()
    >>> out = net(torch.zeros(3, 17, 8, 8, 8), torch.zeros(3, 2, 8, 8, 8), torch.zeros(3, 3))
    >>> out.joints_world.shape, out.heatmaps.shape
    (torch.Size([3, 17, 3]), torch.Size([3, 17, 8, 8, 8]))
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from closecap.config import Config
from closecap.errors import InputError
from closecap.model.blocks import NORMS, UNet3d
from closecap.model.hem import HEM
from closecap.model.klm import KLM
from closecap.volumes import VoxelGrid, soft_argmax

__all__ = ["HEM", "KLM", "ModelConfig", "ModelOutput", "UNet3d", "VolumetricNet"]


@dataclass(frozen=True)
class ModelConfig(Config):
    """Architecture of :class:`VolumetricNet` and the input encoding it was trained with."""

    num_joints: int = 17
    """Joints per person (COCO-17 inside closecap)."""
    grid: VoxelGrid = field(default_factory=VoxelGrid)
    """Each person's cube: side (m) and voxels per side."""
    widths: tuple[int, ...] = (8, 16, 16)
    """Channels per U-Net level, finest first (HEM and KLM alike); more/wider = slower, more capacity."""
    norm: str = "batch"
    """Normalisation in the conv blocks: ``batch``, ``group`` or ``none``."""
    unconditional: bool = False
    """Drop the anchor channels from KLM (the VoxelPose-style ablation; everything else identical)."""
    anchor_sigma_m: float = 0.3
    """Sigma of the anchor Gaussians at the people's centres, metres (0.3: still > 0.004 at a wrist 1 m from
    the centre, so the anchors tell KLM whose joint a peak is across the whole cube; 0.15 vanished there)."""
    stride: int = 4
    """Image pixels per 2D heatmap pixel used to render the input heatmaps."""
    heatmap_sigma_px: float = 8.0
    """Sigma of the rendered 2D Gaussians, image pixels."""
    soft_argmax_beta: float = 1.0
    """Inverse temperature of KLM's soft-argmax (the network learns its own sharpness; keep 1)."""

    def __post_init__(self) -> None:
        if isinstance(self.grid, dict):
            object.__setattr__(self, "grid", VoxelGrid.from_dict(self.grid))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.norm not in NORMS:
            raise InputError(None, "ModelConfig.norm", f"expected one of {NORMS}, got {self.norm!r}")
        if int(self.grid.resolution) % (2 ** (len(self.widths) - 1)):
            raise InputError(None, "ModelConfig.widths", f"{len(self.widths)} levels need a resolution divisible by "
                                                         f"{2 ** (len(self.widths) - 1)}, got {self.grid.resolution}")
        for name in ("anchor_sigma_m", "heatmap_sigma_px", "soft_argmax_beta"):
            if not getattr(self, name) > 0:
                raise InputError(None, f"ModelConfig.{name}", f"must be > 0, got {getattr(self, name)}")
        if int(self.stride) < 1 or int(self.num_joints) < 1:
            raise InputError(None, "ModelConfig", "stride and num_joints must be >= 1")


@dataclass(frozen=True)
class ModelOutput:
    """Predictions of :class:`VolumetricNet` for ``B`` person cubes.

    Attributes:
        hem_logits: ``(B, J, X, Y, Z)`` HEM logits (all people's joints).
        heatmaps: ``(B, J, X, Y, Z)`` ``sigmoid(hem_logits)``, times the temporal mask when one was given
            (what KLM saw).
        klm_logits: ``(B, J, X, Y, Z)`` KLM logits (this person's joints).
        joints_world: ``(B, J, 3)`` metres, world frame: soft-argmax of ``klm_logits``.
    """

    hem_logits: torch.Tensor
    heatmaps: torch.Tensor
    klm_logits: torch.Tensor
    joints_world: torch.Tensor

    def __post_init__(self) -> None:
        B, J = self.hem_logits.shape[:2]
        if self.joints_world.shape != (B, J, 3) or self.klm_logits.shape != self.hem_logits.shape:
            raise InputError(None, "ModelOutput", "inconsistent shapes")


class VolumetricNet(nn.Module):
    """HEM + KLM over person cubes (see the module docstring)."""

    def __init__(self, config: ModelConfig = ModelConfig()) -> None:
        super().__init__()
        self.config = config
        self.hem = HEM(config.num_joints, config.widths, config.norm)
        self.klm = KLM(config.num_joints, config.widths, config.norm, config.unconditional)

    def forward(self, unprojected: torch.Tensor, anchors: torch.Tensor | None, centers_world: torch.Tensor,
                temporal_mask: torch.Tensor | None = None, window: int = 0, mask_keep_ratio: float = 0.0) -> ModelOutput:
        """Predict heatmaps and joints for ``B`` cubes.

        Args:
            unprojected: ``(B, J, X, Y, Z)`` unprojected 2D heatmaps (:func:`closecap.volumes.unproject_heatmaps`).
            anchors: ``(B, 2, X, Y, Z)`` (:func:`closecap.centers.anchor_volumes`), or ``None`` when unconditional.
            centers_world: ``(B, 3)`` metres, the cubes' centres.
            temporal_mask: ``(B, J, X, Y, Z)`` in [0, 1] multiplying HEM's heatmaps before KLM (the temporal
                filter: 0 far from the previous frame's joint), or ``None``.
            window: soft-argmax window in voxels around each volume's arg-max (0 = whole cube, as in
                training; see :func:`closecap.volumes.soft_argmax`).
            mask_keep_ratio: the temporal mask of a joint is dropped (KLM sees the whole heatmap) when the
                strongest response it keeps is below this fraction of the joint's strongest response: the
                previous estimate was wrong or the joint moved out of the radius, and a mask would lock
                the error in (0 = always mask).

        Returns:
            :class:`ModelOutput`.
        """
        J, R = self.config.num_joints, int(self.config.grid.resolution)
        if unprojected.ndim != 5 or tuple(unprojected.shape[1:]) != (J, R, R, R):
            raise InputError(None, "unprojected", f"expected (B, {J}, {R}, {R}, {R}), got {tuple(unprojected.shape)}")
        hem_logits = self.hem(unprojected)
        heatmaps = torch.sigmoid(hem_logits)
        if temporal_mask is not None:
            masked = heatmaps * temporal_mask.to(heatmaps.dtype)
            if mask_keep_ratio > 0:
                kept = masked.flatten(2).amax(-1) >= mask_keep_ratio * heatmaps.flatten(2).amax(-1)  # (B, J)
                masked = torch.where(kept[..., None, None, None], masked, heatmaps)
            heatmaps = masked
        klm_logits = self.klm(heatmaps, anchors)
        joints = soft_argmax(klm_logits, centers_world.to(klm_logits.dtype), self.config.grid, self.config.soft_argmax_beta,
                             window)
        return ModelOutput(hem_logits, heatmaps, klm_logits, joints)
