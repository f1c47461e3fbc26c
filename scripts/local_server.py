"""A folder served on 127.0.0.1 (a free port) by the standard library, remembering every request:
what Chromium reads the site from, to print the PDF (scripts/book_pdf.py) and in the browser tests."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path


class _Recorder(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, log: list, **kwargs):
        self._log = log
        super().__init__(*args, **kwargs)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass  # no line on stderr per request: the log below keeps them

    def log_request(self, code="-", size="-"):
        self._log.append((self.path, int(getattr(code, "value", code))))


class LocalServer:
    """Serves `root` until closed (also as a context manager); `log` holds (path, status) in order."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.log: list[tuple[str, int]] = []
        handler = functools.partial(_Recorder, directory=str(self.root), log=self.log)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def is_local(self, url: str) -> bool:
        return url.startswith(self.base)

    def failures(self) -> list[str]:
        """Every request answered with an error, as 'STATUS path'."""
        return [f"{status} {path}" for path, status in self.log if status >= 400]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
