"""``fermask human-baseline``: a local page to measure human accuracy on masked faces.

Examples::

    fermask human-baseline fer2013.csv -n 50 --usage PrivateTest
    fermask human-baseline fer2013.csv -n 50 --model runs/shallow/bundle
    fermask human-baseline fer2013.csv --session hb --summary   # print the scores, serve nothing

The session folder (``--session``, default ``human_baseline_session``) holds
the masked images, their true labels and the answers; running the command
again on it resumes. Press Ctrl-C to stop the server; the summary is printed.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys

from ._common import int_option, plural, port_option, seed_option

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask human-baseline``."""
    parser.add_argument("data", metavar="DATA", nargs="?",
                        help="FER2013-format CSV, a saved dataset, or a <label>/*.png folder "
                             "(not needed to reopen an existing session)")
    parser.add_argument("-n", type=int_option(), default=50, help="number of images (default: 50)")
    parser.add_argument("--session", default="human_baseline_session", metavar="DIR",
                        help="session folder: images, labels and answers (default: human_baseline_session)")
    parser.add_argument("--model", metavar="BUNDLE", help="also score this model bundle on the same images")
    parser.add_argument("--style", default="surgical", help="mask style (default: surgical; 'random' mixes)")
    parser.add_argument("--seed", type=seed_option, default=0, help="seed of the image draw and masks (default: 0)")
    parser.add_argument("--usage", help="draw only from this usage, e.g. PrivateTest")
    parser.add_argument("--port", type=port_option, default=8765, help="port on 127.0.0.1 (default: 8765; 0 = any free)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.add_argument("--summary", action="store_true", help="print the scores of the session and exit")
    parser.add_argument("--json", action="store_true", help="with --summary: print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask human-baseline``."""
    from pathlib import Path

    from fermask.errors import FermaskError
    from fermask.human_baseline import Session, format_summary, make_server
    from fermask.human_baseline.session import MANIFEST

    # with --json, stdout holds the JSON alone: the notices go to stderr
    notice = functools.partial(print, file=sys.stderr) if args.json else print
    folder = Path(args.session)
    if (folder / MANIFEST).is_file():
        session = Session.create(folder, args.data or "", n=args.n, seed=args.seed) if args.data else Session.open(folder)
        notice(f"resuming {folder}: {len(session.answers)} of {session.total} answered")
    else:
        if not args.data:
            raise FermaskError(f"'{folder}' holds no session yet; give DATA (a FER2013 CSV or an image folder)")
        notice(f"drawing {plural(args.n, 'image')} from {args.data} and masking them ({args.style}) ...")
        session = Session.create(folder, args.data, n=args.n, seed=args.seed, style=args.style, usage=args.usage)
        notice(f"session {folder}: {plural(session.total, 'image')}")
    predictor = None
    if args.model:
        from fermask.predictor import Predictor

        predictor = Predictor.load(args.model)
    name = Path(args.model).name if args.model else None
    if args.summary:
        summary = session.summary(predictor, name)
        print(json.dumps(summary) if args.json else format_summary(summary))
        return 0
    try:
        server = make_server(session, port=args.port, predictor=predictor, model_name=name)
    except OSError as exc:
        raise FermaskError(f"cannot listen on 127.0.0.1:{args.port} ({exc}); pick another --port") from None
    print(f"open {server.url} in a browser (Ctrl-C to stop; answers are saved as you go)")
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print()
    print(format_summary(session.summary(predictor, name)))
    return 0
