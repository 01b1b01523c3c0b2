"""Measure how well people read emotions on masked faces, next to a model.

``fermask human-baseline DATA -n 50`` draws 50 labelled faces, masks them,
and serves a small page on 127.0.0.1 that shows them one by one with the
seven emotions as buttons (keys 1-7). Each answer is written to the session
folder at once, so closing the browser loses nothing and running the command
again resumes. At the end the page shows the person's accuracy and confusion
matrix and, given a model bundle, the model's accuracy on the same images.

Examples:
    >>> from fermask.human_baseline import Session, make_server
    >>> session = Session.create("hb_session", "fer2013.csv", n=50)  # doctest: +SKIP
    >>> server = make_server(session, port=8765)  # doctest: +SKIP
    >>> server.serve_forever()  # doctest: +SKIP
"""

from __future__ import annotations

from .server import BaselineServer, make_server
from .session import Item, Session, format_summary, load_data

__all__ = ["Session", "Item", "load_data", "format_summary", "BaselineServer", "make_server"]
