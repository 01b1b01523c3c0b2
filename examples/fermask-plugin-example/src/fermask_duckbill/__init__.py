"""A duck-bill respirator: a mask style shipped by a third-party package."""

from __future__ import annotations

import numpy as np

from fermask.masks import FaceGeometry, Line, MaskShape, MaskStyle

__all__ = ["DuckBill"]


class DuckBill(MaskStyle):
    """A duck-bill respirator: a wide, pointed bill that sticks out over the mouth."""

    name = "duckbill"
    description = "duck-bill respirator (example plugin)"
    default_color = (120, 170, 230)

    def shape(self, g: FaceGeometry) -> MaskShape:
        left = g.at(g.lerp(1, 2, 0.4), -0.03, 0.0)
        right = g.at(g.lerp(15, 14, 0.4), 0.03, 0.0)
        nose = g.lerp(28, 29, 0.5)
        chin = g.at(g[8], 0.0, -0.12)
        bill_l = g.at(g[5], -0.04, -0.02)
        bill_r = g.at(g[11], 0.04, -0.02)
        outline = g.below_eyes(np.array([left, nose, right, bill_r, chin, bill_l]))
        fold = Line(np.array([left, g.at(g[57], 0, -0.02), right]), width=0.012, shade=0.75)
        return MaskShape(outline, [fold], shading=0.3)
