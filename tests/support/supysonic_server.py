"""Run the real supysonic Subsonic server on 127.0.0.1 for tests.

    python -m tests.support.supysonic_server --music DIR --data DIR --user U --password P

Creates a private database in ``--data``, adds the user (admin) and the music folder,
scans it in the foreground, then serves the Subsonic API with the standard library's
WSGI server on a free loopback port, printing ``ready <port>`` on stdout. ``SupysonicServer``
starts and stops that process from a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType

__all__ = ["SupysonicServer"]


def serve(music: Path, data: Path, user: str, password: str) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from supysonic.config import DefaultConfig
    from supysonic.db import init_database, release_database
    from supysonic.managers.folder import FolderManager
    from supysonic.managers.user import UserManager
    from supysonic.scanner import Scanner
    from supysonic.web import create_application

    config = DefaultConfig()
    config.BASE = {**DefaultConfig.BASE, "database_uri": f"sqlite:///{data / 'supysonic.db'}"}
    config.WEBAPP = {**DefaultConfig.WEBAPP, "cache_dir": str(data / "cache"), "mount_webui": False}
    config.DAEMON = {**DefaultConfig.DAEMON, "socket": str(data / "daemon.sock"), "run_watcher": False}

    fresh = not (data / "supysonic.db").exists()  # started again on its data: a rescan, the ids kept
    init_database(config.BASE["database_uri"])
    if fresh:
        UserManager.add(user, password, admin=True)
        FolderManager.add("music", str(music))
    scanner = Scanner(force=True)
    scanner.queue_folder("music")
    scanner.run()
    release_database()
    app = create_application(config)

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

    httpd = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    print(f"ready {httpd.server_port}", flush=True)
    httpd.serve_forever()


class SupysonicServer:
    """``with SupysonicServer(music, data) as server: server.url``."""

    def __init__(self, music: Path, data: Path, user: str = "alice", password: str = "s3cret") -> None:
        self.music, self.data, self.user, self.password = music, data, user, password
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> SupysonicServer:
        self.data.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", __name__, "--music", str(self.music), "--data", str(self.data),
               "--user", self.user, "--password", self.password]  # fmt: skip
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, "TMPDIR": str(self.data)})  # fmt: skip
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("ready "):
            self._proc.kill()
            _, err = self._proc.communicate(timeout=10)
            raise RuntimeError(f"supysonic did not start: {line!r} {err[-2000:]}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a music folder with supysonic on 127.0.0.1.")
    parser.add_argument("--music", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="s3cret")
    args = parser.parse_args(argv)
    serve(args.music.resolve(), args.data.resolve(), args.user, args.password)


if __name__ == "__main__":
    main()
