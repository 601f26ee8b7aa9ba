"""The sample app as a real process, as an operator runs it: ``python -m flask --app sample_app``.

:class:`SampleServer` runs the app's command line in subprocesses (``init-db``,
``okta-scim ...``) and serves the app with ``flask run`` on 127.0.0.1, all with one
environment: the database URL, the public base URL (``FLASK_OKTA_SCIM_BASE_URL``), the
:data:`SECRET_KEY` every process shares (so that two servers on one database accept each
other's sessions, as workers behind one load balancer do) and any extra settings.

``flask run`` listens on a free port. A port another program takes first is replaced
(twice at most). The server counts as ready once *this* process logs that it is
"Running on" its port (another program may hold the port and answer) and ``/me`` answers.
Its output goes to a log file, for failure messages (:meth:`SampleServer.logs`). Every
command, start, request and stop has a timeout; the server runs in a session of its own
and is stopped with its children.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import typing as t
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Seconds: one CLI command, the server's start, its stop (per signal), one HTTP request.
COMMAND_TIMEOUT = 60
START_TIMEOUT = 30
STOP_TIMEOUT = 10


def stop_process_group(process: subprocess.Popen[t.Any] | None) -> None:
    """Stop a process started in its own group, and its children: SIGTERM, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=STOP_TIMEOUT)
            break
        except subprocess.TimeoutExpired:
            continue


REQUEST_TIMEOUT = 20
#: ``FLASK_SECRET_KEY`` of every process started here.
SECRET_KEY = "sample server secret"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return t.cast(int, s.getsockname()[1])


class PortTaken(RuntimeError):
    """The server could not listen: another program took the port."""


class SampleServer:
    """The sample app on one database: its command line, and ``flask run`` once started.

    ``base_url`` is the app's public base URL; a ``{port}`` in it is the port the server
    listens on (``http://sp.localhost:{port}``), and it is left out for a fixed URL such as
    a load balancer's. Requests to the server carry that URL's host as ``Host``. ``env``
    adds to (or overrides) the environment of every process. Usable as a context manager:
    started on entry, stopped on exit. A subclass serves the app another way (gunicorn) by
    overriding :meth:`serve_command`, :attr:`ready_line` and :attr:`port_taken_lines`.
    """

    #: The server's name in messages.
    name = "flask run"
    #: What the server logs once it listens on ``{port}``.
    ready_line = "Running on http://127.0.0.1:{port}"
    #: What it logs when another program holds the port.
    port_taken_lines: tuple[str, ...] = ("in use by another program", "Address already in use")

    def __init__(
        self,
        database_url: str,
        log: Path,
        *,
        base_url: str = "http://127.0.0.1:{port}",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.log = log
        self._base_url_template = base_url
        self._extra_env = dict(env or {})
        self._log_start = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self._configure()

    def _configure(self) -> None:
        self.base_url = self._base_url_template.format(port=self.port)
        self.host = urllib.parse.urlsplit(self.base_url).netloc
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
        env.update(
            {
                "FLASK_SQLALCHEMY_DATABASE_URI": self.database_url,
                "FLASK_OKTA_SCIM_BASE_URL": self.base_url,
                "FLASK_SECRET_KEY": SECRET_KEY,
                "PYTHONUNBUFFERED": "1",
                **self._extra_env,
            }
        )
        self.env = env

    def __enter__(self) -> SampleServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- the command line ----------------------------------------------------------------------

    @staticmethod
    def command(*args: str) -> list[str]:
        """The command line of ``flask --app sample_app ARGS``."""
        return [sys.executable, "-m", "flask", "--app", "sample_app", *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``flask --app sample_app ARGS`` in the repository root; its output captured."""
        return subprocess.run(
            self.command(*args),
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; its stdout as written."""
        done = self.run(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def cli(self, *args: str) -> str:
        """``flask okta-scim ARGS``, which must succeed; its stdout, stripped."""
        return self.ok("okta-scim", *args).strip()

    def cli_json(self, *args: str) -> t.Any:
        return json.loads(self.cli(*args))

    # -- the server ----------------------------------------------------------------------------

    def start(self) -> None:
        """Serve the app; wait (bounded) until it listens. A taken port is replaced (twice)."""
        for attempt in range(3):
            try:
                self._spawn()
                self._wait_until_ready()
                return
            except PortTaken:
                self.stop()
                if attempt == 2:
                    raise
                self.port = free_port()
                self._configure()
            except BaseException:
                self.stop()
                raise

    def serve_command(self) -> list[str]:
        """The command line that serves the app on 127.0.0.1, port :attr:`port`."""
        return self.command("run", "--host", "127.0.0.1", "--port", str(self.port), "--no-reload")

    def _spawn(self) -> None:
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.serve_command(),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _output(self) -> str:
        """What this start of the server has logged so far."""
        with open(self.log, "rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self._output()
                if any(line in output for line in self.port_taken_lines):
                    raise PortTaken(output)
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.logs()}"
                )
            if self.ready_line.format(port=self.port) not in self._output():
                time.sleep(0.1)
                continue
            try:
                status, _ = self.fetch("/me", timeout=2)
            except OSError:
                time.sleep(0.1)
                continue
            if status in (200, 401):
                return
            raise RuntimeError(f"/me answered {status} at start:\n{self.logs()}")
        raise RuntimeError(f"{self.name} did not answer within {START_TIMEOUT}s:\n{self.logs()}")

    def stop(self) -> None:
        """Stop the server and its children (SIGTERM, then SIGKILL); nothing if not running."""
        process, self.process = self.process, None
        stop_process_group(process)

    def logs(self, limit: int = 6000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # werkzeug's colours
        return f"--- {self.name} (last {limit} characters)\n{text[-limit:]}"

    # -- HTTP ----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request with no cookie jar and no redirects followed, ``Host`` the public host.

        ``body`` is sent as a form, ``cookies`` as the ``Cookie`` header. Returns
        ``(status, headers, body)``: ``headers`` has ``Location`` (``""`` when absent) and
        ``cookie:NAME`` for each cookie the response sets, with its value.
        """
        headers = {"Host": self.host}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            out = {"Location": response.headers.get("Location", "")}
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                out[f"cookie:{name}"] = rest.split(";", 1)[0]
            return response.status, out, response.read()
        finally:
            conn.close()

    def fetch(self, url_or_path: str, timeout: float = REQUEST_TIMEOUT) -> tuple[int, bytes]:
        """GET a path, or a URL on :attr:`base_url`'s host: ``(status, body)``."""
        path = url_or_path
        if "://" in url_or_path:
            parts = urllib.parse.urlsplit(url_or_path)
            assert parts.netloc == self.host, url_or_path
            path = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
        status, _, content = self.request("GET", path, timeout=timeout)
        return status, content
