"""3D convolutional encoder-decoder shared by HEM and KLM: a small V2V-style U-Net.

``levels`` = len(``widths``): level ``i`` works at ``resolution / 2**i`` voxels per side with
``widths[i]`` channels. Encoder: at each level two 3x3x3 conv + norm + ReLU blocks, then a 2x max-pool;
decoder: trilinear 2x up-sampling, a 1x1x1 projection to the finer level's width, addition of the skip
connection and one conv block. The head is a 1x1x1 conv to ``out_channels`` (logits, no activation).
The input resolution must be divisible by ``2 ** (levels - 1)``.

Example:
    >>> import torch
    >>> net = UNet3d(in_channels=3, out_channels=5, widths=(4, 8))
    >>> net(torch.zeros(2, 3, 8, 8, 8)).shape
    torch.Size([2, 5, 8, 8, 8])
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from closecap.errors import InputError

NORMS = ("batch", "group", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm3d(channels)
    if kind == "group":
        return nn.GroupNorm(min(4, channels), channels)
    return nn.Identity()


class ConvBlock3d(nn.Sequential):
    """3x3x3 convolution (same padding) + normalisation + ReLU: ``(B, C_in, X, Y, Z) -> (B, C_out, X, Y, Z)``."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "batch") -> None:
        super().__init__(nn.Conv3d(in_channels, out_channels, 3, padding=1, bias=norm == "none"),
                         _norm(norm, out_channels), nn.ReLU(inplace=True))


def fuse_batch_norms(module: nn.Module) -> nn.Module:
    """A copy of ``module`` for inference in which every :class:`ConvBlock3d`'s batch norm is folded into its
    convolution (same outputs in eval mode up to float rounding; one pass less over every volume).

    Example:
        >>> import torch
        >>> net = UNet3d(2, 3, widths=(4, 8)).eval()
        >>> x = torch.rand(1, 2, 8, 8, 8)
        >>> bool(torch.allclose(fuse_batch_norms(net)(x), net(x), atol=1e-5))
        True
    """
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(module).eval()
    for block in fused.modules():
        if isinstance(block, ConvBlock3d) and isinstance(block[1], nn.BatchNorm3d):
            block[0] = fuse_conv_bn_eval(block[0], block[1])
            block[1] = nn.Identity()
    return fused


class UNet3d(nn.Module):
    """Small 3D U-Net: ``(B, in_channels, X, Y, Z) -> (B, out_channels, X, Y, Z)`` logits.

    Args:
        in_channels, out_channels: channels of the input and output volumes.
        widths: channels per level, finest first, e.g. ``(8, 16, 16)`` (3 levels).
        norm: ``"batch"`` (default; fast at inference), ``"group"`` or ``"none"``.
    """

    def __init__(self, in_channels: int, out_channels: int, widths: Sequence[int] = (8, 16, 16), norm: str = "batch") -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise InputError(None, "widths", f"expected positive channel counts, got {widths}")
        if norm not in NORMS:
            raise InputError(None, "norm", f"expected one of {NORMS}, got {norm!r}")
        self.widths = widths
        self.down = nn.ModuleList()
        previous = int(in_channels)
        for width in widths:
            self.down.append(nn.Sequential(ConvBlock3d(previous, width, norm), ConvBlock3d(width, width, norm)))
            previous = width
        self.lateral = nn.ModuleList(nn.Conv3d(widths[i + 1], widths[i], 1) for i in range(len(widths) - 1))
        self.up = nn.ModuleList(ConvBlock3d(widths[i], widths[i], norm) for i in range(len(widths) - 1))
        self.head = nn.Conv3d(widths[0], int(out_channels), 1)

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        """``volumes (B, C_in, X, Y, Z)`` -> logits ``(B, C_out, X, Y, Z)``."""
        factor = 2 ** (len(self.widths) - 1)
        if volumes.ndim != 5 or any(s % factor for s in volumes.shape[2:]):
            raise InputError(None, "volumes", f"expected (B, C, X, Y, Z) with sides divisible by {factor}, "
                                              f"got {tuple(volumes.shape)}")
        skips = []
        x = volumes
        for i, block in enumerate(self.down):
            if i > 0:
                x = F.max_pool3d(x, 2)
            x = block(x)
            skips.append(x)
        for i in reversed(range(len(self.widths) - 1)):
            x = F.interpolate(self.lateral[i](x), scale_factor=2, mode="trilinear", align_corners=False)
            x = self.up[i](x + skips[i])
        return self.head(x)
