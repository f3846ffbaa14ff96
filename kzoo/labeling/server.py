"""The labelling page's HTTP server: `LabelServer`, on the standard
library's `http.server`.

The API (JSON; `token` as a query parameter or `Authorization: Bearer`):

- `GET /?token=T`: the page.
- `GET /api/queue`: `{"pending": [{"path", "name", ...}], "total",
  "labelled", "classes", "review", "copy", "last"}`.
- `GET /api/image?path=P`: the image file of queue entry `P`.
- `POST /api/label` `{"path": P, "label": L}`: label it (`LabelStore.label`);
  answers `{"row": ..., "queue": ...}`.
- `POST /api/undo`: reverse the last action; answers the same.

Errors are `{"error": "..."}` with 400 (bad request), 401 (no token), 403
(wrong token, another origin or host, a path out of the data folder), 404,
405, 409 (already labelled, nothing to undo), 411/413/415 (a body that is
missing, too large, or not JSON).

Guards, as Jupyter's: the server binds 127.0.0.1; every request must carry
the token (compared in constant time); a request whose `Host` is not this
server's address (DNS rebinding) or whose `Origin` is another site's
(a page in the same browser posting a form or a `fetch`) is refused before
it reaches the store; responses are not cached and send no referrer.
"""

import hmac
import http.server
import json
import mimetypes
import os
import secrets
import urllib.parse

from kzoo.labeling.store import LabelError

PAGE_FILE = os.path.join(os.path.dirname(__file__), "page.html")
MAX_BODY = 64 * 1024
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_POLICY = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
               "script-src 'unsafe-inline'; connect-src 'self'; "
               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class LabelServer(http.server.ThreadingHTTPServer):
    """Serves one `LabelStore` on `host:port` (port 0: any free one).

    Attributes:
        token: The secret every request carries (random unless given).
        url: The address to open, token included.
    """

    daemon_threads = True

    def __init__(self, store, host="127.0.0.1", port=0, token=None, quiet=True):
        self.store = store
        self.token = token or secrets.token_urlsafe(24)
        self.quiet = quiet
        with open(PAGE_FILE, "rb") as f:
            self.page = f.read()
        super().__init__((host, port), _Handler)
        self.port = self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.origins = {f"http://{name}:{self.port}"
                        for name in (*LOCAL_NAMES, shown)}
        self.url = f"http://{shown}:{self.port}/?token={self.token}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "kzoo-label"
    sys_version = ""

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)

    def do_GET(self):
        self._answer("GET")

    def do_POST(self):
        self._answer("POST")

    def _answer(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        try:
            self._guard(query)
            route = ROUTES.get((method, url.path))
            if route is None:
                known = any(path == url.path for _, path in ROUTES)
                raise LabelError(405 if known else 404,
                                 f"no {method} {url.path} here")
            route(self, query)
        except LabelError as err:
            self._json({"error": str(err)}, err.status)
        except OSError as err:  # the disk refused a move, a log write, ...
            self.log_error("%s", err)
            self._json({"error": f"could not be done: {err}"}, 500)

    def _guard(self, query):
        """Refuse another host, another origin, and a missing or wrong
        token, in that order."""
        host = (self.headers.get("Host") or "").lower()
        if not any(host == f"{name}:{self.server.port}" for name in LOCAL_NAMES):
            raise LabelError(403, "refused: this server answers only "
                                  "127.0.0.1 or localhost")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            raise LabelError(403, "refused: a request from another origin")
        if self.headers.get("Sec-Fetch-Site") == "cross-site":
            raise LabelError(403, "refused: a request from another site")
        given = (query.get("token") or [None])[0]
        bearer = self.headers.get("Authorization") or ""
        if bearer.startswith("Bearer "):
            given = bearer[len("Bearer "):]
        if not given:
            raise LabelError(401, "a token is needed: open the URL kzoo label "
                                  "printed (it ends in ?token=...)")
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            raise LabelError(403, "wrong token: open the URL kzoo label printed")

    # Routes.

    def _page(self, query):
        self._send(200, self.server.page, "text/html; charset=utf-8",
                   {"Content-Security-Policy": PAGE_POLICY})

    def _queue(self, query):
        self._json(self.server.store.state())

    def _image(self, query):
        path = (query.get("path") or [""])[0]
        file = self.server.store.image_file(path)
        try:
            with open(file, "rb") as f:
                data = f.read()
        except OSError as err:
            raise LabelError(404, f"{path}: {err.strerror}") from None
        kind = mimetypes.guess_type(file)[0] or "application/octet-stream"
        if not kind.startswith("image/") or kind == "image/svg+xml":
            kind = "application/octet-stream"  # never run as a page
        self._send(200, data, kind)

    def _label(self, query):
        body = self._body()
        row = self.server.store.label(body.get("path"), body.get("label"))
        self._json({"row": row, "queue": self.server.store.state()})

    def _undo(self, query):
        self._body(allow_empty=True)
        row = self.server.store.undo()
        self._json({"row": row, "queue": self.server.store.state()})

    # Bodies and answers.

    def _body(self, allow_empty=False):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            if allow_empty:
                return {}
            raise LabelError(411, "a JSON body with its Content-Length is needed")
        if int(length) > MAX_BODY:
            raise LabelError(413, f"a body of at most {MAX_BODY} bytes")
        data = self.rfile.read(int(length))
        if not data and allow_empty:
            return {}
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if kind != "application/json":
            raise LabelError(415, "the body must be application/json")
        try:
            body = json.loads(data)
        except ValueError:
            raise LabelError(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise LabelError(400, "expected a JSON object")
        return body

    def _json(self, data, status=200):
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status, data, kind, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in {**HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


ROUTES = {
    ("GET", "/"): _Handler._page,
    ("GET", "/api/queue"): _Handler._queue,
    ("GET", "/api/image"): _Handler._image,
    ("POST", "/api/label"): _Handler._label,
    ("POST", "/api/undo"): _Handler._undo,
}
