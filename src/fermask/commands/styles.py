"""``fermask styles``: list the registered mask styles.

Examples::

    fermask styles
    fermask styles --json

Shows each style's name, where it comes from (built-in, or the plugin
package's entry point) and its description.
"""

from __future__ import annotations

import argparse

from ._common import add_listing_arguments, print_listing

__all__ = ["add_arguments", "run", "style_rows"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask styles``."""
    add_listing_arguments(parser, "*95", "style")


def style_rows(pattern: str | None = None) -> list[dict[str, str]]:
    """Name, source and description of each registered style.

    A plugin style that fails to load is listed with the error as its
    description instead of stopping the listing.
    """
    from fermask.errors import FermaskError
    from fermask.masks import get_mask, list_masks, registry

    rows = []
    for name in list_masks(pattern):
        source = registry.source(name)
        if source.startswith("plugin "):
            source = "plugin (" + source[len("plugin "):] + ")"
        try:
            description = get_mask(name).description or ""
        except (FermaskError, Exception) as exc:  # a broken plugin must not hide the others
            description = f"(cannot be loaded: {type(exc).__name__}: {exc})"
        rows.append({"name": name, "source": source, "description": description})
    return rows


def run(args: argparse.Namespace) -> int:
    """Run ``fermask styles``."""
    rows = style_rows(args.pattern)
    if not rows and not args.json:
        print(f"no mask style matches {args.pattern!r}" if args.pattern else "no mask styles registered")
        return 0
    print_listing(rows, ["name", "source"], args.json)
    return 0
