"""The local web page of a human-baseline session (standard library only).

The server binds to 127.0.0.1 only. Its JSON API:

``GET /api/next``
    ``{"done": false, "id", "image", "position", "total", "labels"}`` for the
    first unanswered image, or ``{"done": true, ...}``.
``POST /api/answer``
    body ``{"id": 3, "answer": "happy", "ms": 1830}``; the answer is on disk
    before the reply. Replies ``{"ok": true, "recorded": bool, "answered", "total"}``;
    ``recorded`` is false when the image was already answered.
``GET /api/summary``
    :meth:`Session.summary` (with the model's scores when one was given).
``GET /images/NNNN.png``
    a session image. ``GET /`` serves the page.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from ..errors import FermaskError
from .session import Session

__all__ = ["BaselineServer", "make_server"]

HOST = "127.0.0.1"
MAX_BODY = 10_000


class BaselineServer(ThreadingHTTPServer):
    """A :class:`~http.server.ThreadingHTTPServer` serving one :class:`Session`.

    Attributes:
        session: The session.
        predictor: The model scored side by side, or ``None``.
        model_name: Its name in the summary.
    """

    daemon_threads = True

    def __init__(self, session: Session, port: int = 0, predictor: Any = None, model_name: str | None = None) -> None:
        super().__init__((HOST, int(port)), _Handler)
        self.session = session
        self.predictor = predictor
        self.model_name = model_name
        self.page = resources.files(__package__).joinpath("static/index.html").read_bytes()
        self._summary_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{HOST}:{self.server_address[1]}/"

    def summary(self) -> dict[str, Any]:
        """The session summary (model scores computed once, under a lock)."""
        with self._summary_lock:
            return self.session.summary(self.predictor, self.model_name)

    def serve_in_thread(self) -> threading.Thread:
        """Start serving in a daemon thread (for tests and notebooks); stop with ``shutdown()``."""
        t = threading.Thread(target=self.serve_forever, daemon=True)
        t.start()
        return t


def make_server(session: Session, port: int = 0, predictor: Any = None, model_name: str | None = None) -> BaselineServer:
    """Create the server for a session, bound to 127.0.0.1 (``port=0`` picks a free port)."""
    return BaselineServer(session, port=port, predictor=predictor, model_name=model_name)


class _Handler(BaseHTTPRequestHandler):
    server: BaselineServer
    server_version = "fermask-human-baseline"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet; the command prints its own progress

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"ok": False, "error": message}, status)

    def _next(self) -> dict[str, Any]:
        s = self.server.session
        it = s.next_item()
        base = {"total": s.total, "answered": len(s.answers), "labels": s.labels}
        if it is None:
            return {"done": True, **base}
        return {"done": False, "id": it.id, "image": "/" + it.file, "position": len(s.answers) + 1, **base}

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path
        s = self.server.session
        try:
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
            elif path == "/api/next":
                self._json(self._next())
            elif path == "/api/summary":
                self._json(self.server.summary())
            elif path.startswith("/images/"):
                wanted = path.lstrip("/")
                files = {it.file for it in s.items}
                if wanted not in files:  # only the session's own images, no path tricks
                    self._error(HTTPStatus.NOT_FOUND, f"no such image: {path}")
                    return
                self._send(HTTPStatus.OK, (s.folder / wanted).read_bytes(), "image/png")
            elif path == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        except FermaskError as exc:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(exc))

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        path = urlsplit(self.path).path
        if path != "/api/answer":
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {path}")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._error(HTTPStatus.BAD_REQUEST, "expected a JSON body of at most 10 kB")
            return
        try:
            body = json.loads(self.rfile.read(length))
            item_id, answer = int(body["id"]), str(body["answer"])
            ms = body.get("ms")
            ms = float(ms) if ms is not None else None
        except (ValueError, KeyError, TypeError):
            self._error(HTTPStatus.BAD_REQUEST, 'expected JSON like {"id": 3, "answer": "happy"}')
            return
        s = self.server.session
        try:
            recorded = s.answer(item_id, answer, ms)
        except FermaskError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        self._json({"ok": True, "recorded": recorded, "answered": len(s.answers), "total": s.total})
