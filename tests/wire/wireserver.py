"""``sqlvec serve`` as a subprocess for tests: started on a free port, ready when it says so."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

_LISTENING = re.compile(r"listening on \[?([^\]\s]+?)\]?:(\d+)")
START_TIMEOUT = 90  # seconds: a cold import on a loaded CI machine


class ServerProcess:
    """``python -m sqlvec serve --port 0`` in a subprocess; ready once it prints its port."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.host = "127.0.0.1"
        self.port = 0
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None
        self._drain = threading.Thread()

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "sqlvec", "serve", "--port", "0", "--data", str(self.data_dir)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            cmd + self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
        )
        ready: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:  # keeps reading so that the server never blocks on a full pipe
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                if _LISTENING.search(line):
                    ready.put(line)
            ready.put(None)

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        try:
            line = ready.get(timeout=START_TIMEOUT)
        except queue.Empty:
            self.kill()
            raise RuntimeError("server did not start:\n" + "\n".join(self.lines)) from None
        if line is None:
            raise RuntimeError("server exited:\n" + "\n".join(self.lines))
        m = _LISTENING.search(line)
        assert m is not None
        self.host, self.port = m.group(1), int(m.group(2))
        return self

    def dsn(self, dbname: str = "postgres", user: str = "postgres", **extra: str) -> str:
        parts = {"host": self.host, "port": str(self.port), "user": user, "dbname": dbname,
                 "connect_timeout": "30", **extra}
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            self._close_pipe()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_pipe()

    def _close_pipe(self) -> None:
        self._drain.join(timeout=10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def log(self) -> str:
        return "\n".join(self.lines)
