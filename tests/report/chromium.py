"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe``, for the HTML report test.

Why a pipe and not ``--dump-dom`` with ``--enable-logging``: console messages
and CSP violations arrive as structured CDP events (``Runtime.consoleAPICalled``,
``Runtime.exceptionThrown``, ``Log.entryAdded``) instead of log lines whose
format changes between Chromium versions, and the test can ask the live DOM
questions (is the SVG laid out, how many rows does the findings table have)
after the page's own script ran.  No port is opened, and no package is needed.

Protocol: Chromium reads commands from fd 3 and writes replies and events to
fd 4, each message one JSON object followed by a NUL byte.  The page is
opened through ``Target.createTarget`` and driven in a flattened session
(``Target.attachToTarget`` with ``flatten: true``).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)


class CdpError(RuntimeError):
    pass


class Chromium:
    """One headless Chromium, driven over the CDP pipe.  Use as a context manager."""

    def __init__(self, binary: str, profile_dir: Path, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buffer = b""
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds() -> None:  # in the child: fd 3 = commands in, fd 4 = replies out
            # Move both ends above 4 first: a pipe end may itself be 3 or 4 (dup2 onto itself
            # would leave it close-on-exec), or the first dup2 could overwrite the other end.
            commands = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            replies = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--window-size=1280,900", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire_fds,
            # close_fds would run after preexec_fn and close 3 and 4 again; every other descriptor
            # of this process is already close-on-exec (Python's default), so nothing else leaks.
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.send("Browser.close")
            except (CdpError, OSError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.process.stderr is not None:
            self.process.stderr.close()

    # --------------------------------------------------------------------- protocol

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        reply = self._read_until(lambda m: m.get("id") == message["id"])
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    def wait_for_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method and (session is None or event.get("sessionId") == session):
                return event
        return self._read_until(
            lambda m: m.get("method") == method and (session is None or m.get("sessionId") == session)
        )

    def _read_until(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return dict(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CdpError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise CdpError(f"Chromium closed the pipe (exit {self.process.poll()})")
            self._buffer += chunk

    # --------------------------------------------------------------------- page helpers

    def open_page(self, url: str) -> str:
        """Open ``url`` in a new tab with console and log events on; return the session id once loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for_event("Page.loadEventFired", session=session)
        return str(session)

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def problems(self, session: str) -> list[str]:
        """Console errors and warnings, uncaught exceptions and browser log errors (CSP, failed loads)."""
        found: list[str] = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            if event.get("method") == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                found.append(
                    f"console.{params['type']}: "
                    + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
                )
            elif event.get("method") == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif event.get("method") == "Log.entryAdded" and params.get("entry", {}).get("level") in (
                "error",
                "warning",
            ):
                entry = params["entry"]
                found.append(f"log {entry.get('source')}/{entry.get('level')}: {entry.get('text')}")
        return found

    def screenshot(self, session: str, path: Path, *, selector: str | None = None, scale: float = 1.0) -> None:
        """Save a PNG of the whole page, or of one element (for looking at the report while developing)."""
        import base64

        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if selector is not None:
            box = self.evaluate(
                session,
                f"(function(){{var r=document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                "return [r.left+window.scrollX, r.top+window.scrollY, r.width, r.height];})()",
            )
            params["clip"] = {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "scale": scale}
        else:
            size = self.evaluate(
                session, "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": scale}
        data = self.send("Page.captureScreenshot", params, session=session)["data"]
        path.write_bytes(base64.b64decode(data))
