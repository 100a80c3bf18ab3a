"""The HTTP layer: a threading HTTP/1.1 server in front of :class:`.app.App`."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .app import App
from .config import ServerConfig
from .web import Request, Response

logger = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, asks the app, writes (or, for a dropped answer, withholds) the reply."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, delayed ACKs add ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=url.query,
            headers=self.headers,
            body=body,
            base_url=self._base_url(),
        )
        response = self.server.app.handle(request)
        if response.drop:
            self._drop()
            return
        self._write(response)

    def _base_url(self) -> str:
        """Where links (onboarding, checkout) should point: configured, or as we were called."""
        configured = self.server.app.config.public_url
        if configured:
            return configured.rstrip("/")
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _drop(self) -> None:
        # The work is done and saved; the client only sees its connection die.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.app.config.verbose:
            logger.info("%s " + format, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: App) -> None:
        self.app = app
        super().__init__((app.config.host, app.config.port), _Handler)


class LocalStripeServer:
    """The FairOSS local Stripe test server: start it, point the stripe library at ``url``.

    >>> server = LocalStripeServer(ServerConfig(port=0)).start()   # doctest: +SKIP
    >>> stripe.api_base = server.url                               # doctest: +SKIP
    >>> server.stop()                                              # doctest: +SKIP
    """

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.app = App(self.config)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._served = False

    @property
    def url(self) -> str:
        """The API base, e.g. ``http://127.0.0.1:12111`` (the real port when 0 was asked)."""
        assert self._httpd is not None, "the server is not started"
        host, port = self._httpd.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def bind(self) -> LocalStripeServer:
        """Open the listening socket and start the app's background threads."""
        self.app.start()
        self._httpd = _HTTPServer(self.app)
        return self

    def start(self) -> LocalStripeServer:
        """Serve in a background thread (for tests and embedding)."""
        self.bind()
        assert self._httpd is not None
        self._served = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="stripe-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` is called from another one."""
        if self._httpd is None:
            self.bind()
        assert self._httpd is not None
        self._served = True
        self._httpd.serve_forever()

    def shutdown(self) -> None:
        """Make :meth:`serve_forever` return (call from another thread, e.g. a signal)."""
        if self._httpd is not None and self._served:
            self._httpd.shutdown()

    def stop(self) -> None:
        """Stop serving, stop the background threads, and save the data file."""
        self.shutdown()
        if self._httpd is not None:
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.app.stop()

    def __enter__(self) -> LocalStripeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
