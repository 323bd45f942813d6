"""Pictures of LSP results, drawn with mmengine's ``Visualizer``.

* :func:`draw_lsp_patches` -- the localized patches on the image, numbered in
  LSP selection order (paper Fig. 3);
* :func:`draw_attention_maps` -- the input image next to every branch's
  spatial attention map ``S_j`` (eq. 5) laid over it (paper Fig. 5).

An attention map location ``(i, j)`` is the ``rf x rf`` patch at
``[offset + s*j, offset + s*i]``; it is drawn as the ``s x s`` cell centred on
that patch, so the maps of the three branches (different ``rf``) line up with
the image and with each other. The image border that no cell covers
(``(rf - s) / 2`` px, no location is centred there) stays at the map's
minimum colour.
"""
from typing import Mapping, Optional

import cv2
import numpy as np
import torch

from .. import lsp

# Patch colours in LSP order (RGB): the first, most activated patch red.
PATCH_COLOURS = [(230, 25, 75), (255, 225, 25), (60, 180, 75), (0, 130, 200),
                 (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230)]
CAPTION_LINE = 16  # px per caption line


def _with_caption(vis, image: np.ndarray, text: str, lines: int = 2) -> np.ndarray:
    """``image`` (H, W, 3) RGB with a black band of ``lines`` text lines on
    top (``text`` may hold newlines)."""
    band = np.zeros((CAPTION_LINE * lines + 4, image.shape[1], 3), dtype=np.uint8)
    vis.set_image(band)
    vis.draw_texts(text, positions=np.array([3, 2]), colors='white', font_sizes=8)
    return np.concatenate([vis.get_image(), image], axis=0)  # (H + band, W, 3)


def draw_lsp_patches(vis, image: np.ndarray, boxes: np.ndarray,
                     title: Optional[str] = None) -> np.ndarray:
    """Draw LSP patches on an image (paper Fig. 3).

    Args:
        vis (mmengine.visualization.Visualizer): the drawer.
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        boxes (np.ndarray): ``(n, 4)`` ``[x1, y1, x2, y2]`` in ``image``
            pixels, in LSP order; patch ``r`` is labelled ``r + 1``.
        title (str, optional): caption above the picture.

    Returns:
        np.ndarray: ``(H [+ caption], W, 3)`` uint8 RGB.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)  # (n, 4)
    vis.set_image(image)
    if len(boxes):
        colours = [PATCH_COLOURS[r % len(PATCH_COLOURS)] for r in range(len(boxes))]
        width = max(1.0, min(image.shape[:2]) / 160)
        # the least activated patch first, so the top patch is drawn on top
        vis.draw_bboxes(boxes[::-1], edge_colors=colours[::-1], line_widths=width,
                        alpha=0.9)
        vis.draw_texts([str(r + 1) for r in range(len(boxes))],
                       positions=boxes[:, :2] + 2, colors=colours, font_sizes=8,
                       bboxes=dict(facecolor='black', alpha=0.6, pad=0.5,
                                   edgecolor='none'))
    picture = vis.get_image()
    return _with_caption(vis, picture, title) if title else picture


def attention_canvas(attention: np.ndarray, geometry: lsp.BranchGeometry
                     ) -> np.ndarray:
    """An ``(h, w)`` attention map as an input-sized ``(H, W)`` map: each
    location's value fills the ``s x s`` cell centred on its patch (bilinear
    between cell centres); uncovered pixels get the map's minimum."""
    attention = np.asarray(attention, dtype=np.float32)
    if attention.shape != tuple(geometry.map_size):
        raise ValueError(f'attention map of branch {geometry.name!r} is '
                         f'{attention.shape}, its geometry says {geometry.map_size}')
    H, W = geometry.input_size
    h, w = geometry.map_size
    s = geometry.stride
    cells = cv2.resize(attention, (w * s, h * s),
                       interpolation=cv2.INTER_LINEAR)  # (h*s, w*s)
    canvas = np.full((H, W), attention.min(), dtype=np.float32)
    y0 = x0 = geometry.offset + (geometry.rf - s) // 2  # first cell's corner
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + h * s, H), min(x0 + w * s, W)
    canvas[ys:ye, xs:xe] = cells[ys - y0:ye - y0, xs - x0:xe - x0]
    return canvas


def draw_attention_maps(vis, image: np.ndarray, attentions: Mapping[str, np.ndarray],
                        geometry: Mapping[str, lsp.BranchGeometry],
                        captions: Optional[Mapping[str, str]] = None,
                        title: Optional[str] = None) -> np.ndarray:
    """The image and each branch's attention map over it (paper Fig. 5).

    Args:
        vis (mmengine.visualization.Visualizer): the drawer.
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB network input.
        attentions (Mapping[str, np.ndarray]): branch -> ``S_j`` ``(h_j, w_j)``.
        geometry (Mapping[str, BranchGeometry]): the branches' geometry for an
            ``H x W`` input.
        captions (Mapping[str, str], optional): branch -> panel caption.
        title (str, optional): caption of the image panel.

    Returns:
        np.ndarray: ``(H + caption, (1 + J) * W, 3)`` uint8 RGB, panels left to
        right: the image, then the branches in ``attentions`` order.
    """
    panels = [_with_caption(vis, image, title or '')]
    for name, attention in attentions.items():
        if name not in geometry:
            raise ValueError(f'attention map of unknown branch {name!r}; the geometry '
                             f'has {list(geometry)}')
        canvas = attention_canvas(attention, geometry[name])  # (H, W)
        overlay = vis.draw_featmap(torch.from_numpy(canvas)[None], image,
                                   channel_reduction='squeeze_mean', alpha=0.5)
        panels.append(_with_caption(vis, overlay, (captions or {}).get(name, name)))
    return np.concatenate(panels, axis=1)
