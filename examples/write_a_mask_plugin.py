"""Write a mask style in a few lines, register it and use it.

Usage:
    python examples/write_a_mask_plugin.py [--out visor.png]

The same class becomes a plugin for everyone once a package names it in the
``fermask.masks`` entry-point group: see ``examples/fermask-plugin-example``.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from fermask import Masker, list_masks, register_mask
from fermask.assets import example_photo
from fermask.masks import Disc, FaceGeometry, Line, MaskShape, MaskStyle


@register_mask("visor")
class Visor(MaskStyle):
    """A band across the lower face with a round valve."""

    name = "visor"  # what a Masker reports for Visor(); the decorator's name is the registry's
    description = "a band across the lower face with a valve"
    default_color = (30, 120, 200)

    def shape(self, g: FaceGeometry) -> MaskShape:
        left = g.at(g[2], -0.03, 0.0)         # cheek, nose level
        right = g.at(g[14], 0.03, 0.0)
        nose = g.lerp(28, 29, 0.5)            # on the nose bridge
        chin = g.at(g[8], 0.0, -0.08)         # a little below the chin
        outline = g.below_eyes(np.array([left, nose, right, g.at(g[11], 0.03, 0), chin, g.at(g[5], -0.03, 0)]))
        seam = Line(np.array([left, g[57], right]), width=0.01, shade=0.8)
        valve = Disc(g.at(g[57], 0.0, -0.08), radius=0.07, color=(200, 200, 205))
        return MaskShape(outline, [seam], [valve])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="visor.png")
    args = parser.parse_args()
    assert "visor" in list_masks()
    result = Masker("visor", pattern="stripes")(example_photo())
    Image.fromarray(result.image).save(args.out)
    print(f"masked {len(result.faces)} face(s) with {result.styles} -> {args.out}")


if __name__ == "__main__":
    main()
