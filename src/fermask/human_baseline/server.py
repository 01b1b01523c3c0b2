"""The local web page of a human-baseline session (standard library only).

The server binds to 127.0.0.1 only and answers only its own page: a request
whose ``Host`` (or ``Origin``, when sent) is not the server's own address
(``127.0.0.1:PORT``, ``localhost:PORT`` or ``[::1]:PORT``) is refused with
403, so other web pages and DNS-rebinding sites can neither post answers nor
read the session. Its JSON API:

``GET /api/next``
    ``{"done": false, "id", "image", "position", "total", "labels"}`` for the
    first unanswered image, or ``{"done": true, ...}``.
``POST /api/answer``
    body ``{"id": 3, "answer": "happy", "ms": 1830}`` sent as
    ``Content-Type: application/json`` (415 otherwise); the answer is on disk
    before the reply. Replies ``{"ok": true, "recorded": bool, "answered", "total"}``;
    ``recorded`` is false when the image was already answered. A malformed
    answer gets 400 ``{"ok": false, "error": ...}`` saying what was expected.
``GET /api/summary``
    :meth:`Session.summary` (with the model's scores when one was given).
``GET /images/NNNN.png``
    a session image. ``GET /`` serves the page.
"""

from __future__ import annotations

import json
import math
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from .._numbers import check_port
from ..errors import FermaskError, InvalidValueError
from .session import Session

__all__ = ["AnswerError", "BaselineServer", "make_server", "parse_answer"]

HOST = "127.0.0.1"
#: Largest answer body accepted, in bytes.
MAX_BODY = 10_000
#: Largest answer time accepted, in milliseconds (one day).
MAX_MS = 86_400_000
#: Pending connections the listening socket queues (the default 5 resets bursts).
REQUEST_QUEUE_SIZE = 1024
#: Names under which the page may address the server (with its port).
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
_EXAMPLE = '{"id": 3, "answer": "happy", "ms": 1830}'


class AnswerError(FermaskError):
    """An answer request that cannot be accepted; ``status`` is the HTTP status to reply with."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = int(status)


def _no_constant(name: str) -> Any:
    raise InvalidValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidValueError(f"the number {text[:30]} is too large")
    return value


def _show(value: Any) -> str:
    """A received JSON value, shortened for an error message."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_answer(raw: bytes, n_items: int) -> tuple[int, str, float | None]:
    """Read and check the body of ``POST /api/answer``.

    Args:
        raw: The request body.
        n_items: Number of images in the session (ids run ``0..n_items-1``).

    Returns:
        ``(id, answer, ms)``; ``ms`` is ``None`` when not given. Whether the
        answer is one of the session's labels is left to :meth:`Session.answer`.

    Raises:
        AnswerError: The body is not a JSON object of that shape: ``id`` an
            integer in range (not a boolean or a fraction), ``answer`` a string,
            ``ms`` absent, ``null`` or a finite number in ``0..MAX_MS``.

    Example:
        >>> parse_answer(b'{"id": 3, "answer": "happy", "ms": 1830}', 8)
        (3, 'happy', 1830.0)
        >>> parse_answer(b'{"id": true, "answer": "happy"}', 8)
        Traceback (most recent call last):
        ...
        fermask.human_baseline.server.AnswerError: "id" must be a whole number, an image id 0-7; got true
    """
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AnswerError(f"could not read the body as JSON ({exc}); expected {_EXAMPLE}") from None
    if not isinstance(body, dict):
        raise AnswerError(f"expected a JSON object like {_EXAMPLE}; got {_show(body)}")
    unknown = sorted(set(body) - {"id", "answer", "ms"})
    if unknown:
        raise AnswerError(f"unknown field(s) {', '.join(map(repr, unknown))}; expected only id, answer, ms")
    if "id" not in body or "answer" not in body:
        raise AnswerError(f'"id" and "answer" are required, as in {_EXAMPLE}')
    item_id, answer, ms = body["id"], body["answer"], body.get("ms")
    if type(item_id) is not int or not 0 <= item_id < n_items:
        raise AnswerError(f'"id" must be a whole number, an image id 0-{n_items - 1}; got {_show(item_id)}')
    if not isinstance(answer, str):
        raise AnswerError(f'"answer" must be a label name (a string) such as "happy"; got {_show(answer)}')
    if ms is not None:
        if type(ms) not in (int, float) or not 0 <= ms <= MAX_MS:
            raise AnswerError(f'"ms" must be null or a number of milliseconds 0-{MAX_MS}; got {_show(ms)}')
        ms = float(ms)
    return item_id, answer, ms


class BaselineServer(ThreadingHTTPServer):
    """A :class:`~http.server.ThreadingHTTPServer` serving one :class:`Session`.

    Attributes:
        session: The session.
        predictor: The model scored side by side, or ``None``.
        model_name: Its name in the summary.
        hosts: The ``Host`` values accepted (the server's own addresses, lower case).
        origins: The ``Origin`` values accepted (``http://`` + a host).
    """

    daemon_threads = True
    request_queue_size = REQUEST_QUEUE_SIZE

    def __init__(self, session: Session, port: int = 0, predictor: Any = None, model_name: str | None = None) -> None:
        super().__init__((HOST, check_port(port)), _Handler)
        self.session = session
        self.predictor = predictor
        self.model_name = model_name
        self.page = resources.files(__package__).joinpath("static/index.html").read_bytes()
        self._summary_lock = threading.Lock()
        bound = self.server_address[1]
        hosts = {f"{name}:{bound}" for name in LOCAL_NAMES}
        if bound == 80:  # browsers leave out the default port
            hosts.update(LOCAL_NAMES)
        self.hosts = frozenset(hosts)
        self.origins = frozenset(f"http://{h}" for h in hosts)

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

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or stalled is no error worth a traceback; anything else is."""
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def make_server(session: Session, port: int = 0, predictor: Any = None, model_name: str | None = None) -> BaselineServer:
    """Create the server for a session, bound to 127.0.0.1 (``port=0`` picks a free port)."""
    return BaselineServer(session, port=port, predictor=predictor, model_name=model_name)


class _Handler(BaseHTTPRequestHandler):
    server: BaselineServer
    server_version = "fermask-human-baseline"
    timeout = 60  # a client that stalls mid-request does not hold a thread forever

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
        self._send(status, json.dumps(data, allow_nan=False).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json({"ok": False, "error": message}, status)

    def _refuse_foreign(self) -> bool:
        """Reply 403 and return True when the request does not come from the server's own page."""
        host = (self.headers.get("Host") or "").strip().lower()
        origin = self.headers.get("Origin")
        if host not in self.server.hosts:
            why = f"Host {host!r}" if host else "no Host header"
        elif origin is not None and origin.strip().lower() not in self.server.origins:
            why = f"Origin {origin.strip()[:80]!r}"
        else:
            return False
        self._discard_body()
        self._error(HTTPStatus.FORBIDDEN,
                    f"refused a request with {why}: this server answers only its own page at {self.server.url} "
                    f"(Host one of {', '.join(sorted(self.server.hosts))}); open that address in the browser")
        return True

    def _discard_body(self) -> None:
        """Read an unwanted body (up to 1 MB) so that closing the connection does not reset the reply."""
        try:
            left = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return
        if left > 1_000_000:
            return
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)

    def _next(self) -> dict[str, Any]:
        s = self.server.session
        it = s.next_item()
        base = {"total": s.total, "answered": len(s.answers), "labels": s.labels}
        if it is None:
            return {"done": True, **base}
        return {"done": False, "id": it.id, "image": "/" + it.file, "position": len(s.answers) + 1, **base}

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self._refuse_foreign():
            return
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

    def _read_answer(self) -> tuple[int, str, float | None]:
        """The checked body of an answer request; raises :class:`AnswerError` with the status to reply."""
        ctype = self.headers.get_content_type()
        charset = (self.headers.get_content_charset() or "utf-8").lower()
        if ctype != "application/json" or charset not in ("utf-8", "utf8"):
            sent = self.headers.get("Content-Type") or "none"
            self._discard_body()
            raise AnswerError(f"expected Content-Type: application/json (UTF-8); got {sent[:80]!r}. "
                              "Send the answer as JSON", HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
        if self.headers.get("Transfer-Encoding") or not self.headers.get("Content-Length"):
            raise AnswerError(f"expected a Content-Length header and a body of at most {MAX_BODY} bytes "
                              "(no chunked encoding)", HTTPStatus.LENGTH_REQUIRED)
        try:
            length = int(self.headers["Content-Length"])
        except ValueError:
            length = -1
        if length < 0:
            raise AnswerError(f"Content-Length must be a byte count; got {self.headers['Content-Length'][:40]!r}")
        if length > MAX_BODY:
            self._discard_body()
            raise AnswerError(f"the body is {length} bytes; an answer must be at most {MAX_BODY}",
                              HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        raw = self.rfile.read(length)
        if len(raw) < length:
            raise AnswerError(f"the body ended after {len(raw)} of the {length} bytes announced")
        return parse_answer(raw, self.server.session.total)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if self._refuse_foreign():
            return
        path = urlsplit(self.path).path
        if path != "/api/answer":
            self._discard_body()
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {path}")
            return
        try:
            item_id, answer, ms = self._read_answer()
        except AnswerError as exc:
            self._error(exc.status, str(exc))
            return
        s = self.server.session
        try:
            recorded = s.answer(item_id, answer, ms)
        except FermaskError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        except OSError as exc:  # disk full, folder removed: the answer is not saved, and the page says so
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"could not save the answer ({exc}); it was not recorded")
            return
        self._json({"ok": True, "recorded": recorded, "answered": len(s.answers), "total": s.total})
