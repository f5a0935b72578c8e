"""Secrets stay secret: never in the database, logs, errors or --json; config 0600; TLS on by default."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.loopback import LoopbackServer, Request, Response
from soulsync_idmap.errors import ServerError
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.servers.base import ServerConfig
from soulsync_idmap.servers.subsonic import SubsonicServer
from soulsync_idmap.sync.adapters import server_config
from tests.conftest import Invoke
from tests.support.gen_library import generate

SECRET = "s3cr3t-t0ken-4f9a8b7c6d5e4f3a2b1c"
PASSWORD = "hunter2-Pa55w0rd!"


def _dump(db_url: str) -> str:
    """Every value of every table, as text."""
    engine = create_engine(db_url)
    parts = []
    with engine.connect() as conn:
        for table in ("server", "link", "artist", "album", "track", "sync_run", "decision", "review_item"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                parts.append(repr(tuple(row)))
    engine.dispose()
    return "\n".join(parts)


def test_tokens_and_passwords_never_leave_the_config_file(
    idmap: Invoke, db_url: str, config_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    library = tmp_path / "lib.jsonl"
    generate(library, tracks=40, albums=4, artists=2, seed=3)
    caplog.set_level(logging.DEBUG)
    with FakeJellyfin(library, token=SECRET, user=("alice", PASSWORD)) as fake:
        assert idmap("servers", "add", "jellyfin", "jf", "--url", fake.url, "--token", SECRET).exit_code == 0
        assert idmap("servers", "add", "jellyfin", "jf2", "--url", fake.url, "--user", "alice",
                     "--password", PASSWORD).exit_code == 0  # fmt: skip
        synced = idmap("-vv", "sync", "--json")
        outputs = [
            synced.output,  # stdout and the -vv log on stderr
            idmap("servers", "list", "--json").output,
            idmap("stats", "--json").output,
            idmap("export").output,
        ]
        assert (
            idmap(
                "servers", "add", "jellyfin", "bad", "--url", fake.url, "--token", "wrong-" + SECRET, "--no-check"
            ).exit_code
            == 0
        )
        failed = idmap("sync", "bad")
        assert failed.exit_code == 1
        outputs.append(failed.output)
    everything = "\n".join([*outputs, caplog.text, _dump(db_url)])
    assert SECRET not in everything
    assert PASSWORD not in everything
    assert json.loads(synced.stdout)[0]["ok"]
    config = json.loads(config_path.read_text())
    assert config["servers"]["jf"]["token"] == SECRET
    assert config["servers"]["jf2"]["password"] == PASSWORD
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600


def test_secrets_from_the_environment(
    idmap: Invoke, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    library = tmp_path / "lib.jsonl"
    generate(library, tracks=10, albums=1, artists=1, seed=3)
    with FakeJellyfin(library, token=SECRET) as fake:
        assert idmap("servers", "add", "jellyfin", "home-jf", "--url", fake.url, "--no-check").exit_code == 0
        assert idmap("sync", "home-jf").exit_code == 1  # no token anywhere
        monkeypatch.setenv("IDMAP_HOME_JF_TOKEN", SECRET)
        assert idmap("sync", "home-jf").exit_code == 0
    assert SECRET not in _dump(db_url)


def test_tls_verification_is_on_unless_insecure_is_explicit(idmap: Invoke, db_url: str) -> None:
    assert (
        idmap(
            "servers", "add", "jellyfin", "a", "--url", "https://127.0.0.1:8920", "--token", "t", "--no-check"
        ).exit_code
        == 0
    )
    assert idmap("servers", "add", "jellyfin", "b", "--url", "https://127.0.0.1:8920", "--token", "t", "--no-check",
                 "--insecure").exit_code == 0  # fmt: skip
    store = Store.open(db_url)
    try:
        assert server_config(store.server("a"), {}).verify_tls is True
        assert server_config(store.server("b"), {}).verify_tls is False
    finally:
        store.close()


def test_server_config_repr_hides_secrets() -> None:
    from soulsync_idmap.servers.base import ServerConfig

    config = ServerConfig("n", "jellyfin", "http://127.0.0.1", token=SECRET, password=PASSWORD)
    assert SECRET not in repr(config) and PASSWORD not in repr(config)
    assert SECRET not in str(config)


class EchoServer(LoopbackServer):
    """A proxy that refuses every listing with a 400 whose body echoes the request's
    Authorization header, placed so that the token starts at character ``at`` of the body."""

    at = 190

    def handle(self, request: Request) -> Response:
        if request.path == "/Library/MediaFolders":
            folder = {"Id": "m", "Name": "Music", "CollectionType": "music", "Type": "CollectionFolder"}
            return Response(200, json.dumps({"Items": [folder], "TotalRecordCount": 1}).encode())
        header = request.header("authorization") or ""
        start = header.index(SECRET)
        return Response(400, ("x" * (self.at - start) + header).encode(), "text/plain")


def test_a_token_echoed_across_the_cut_of_an_error_never_leaks(idmap: Invoke, db_url: str) -> None:
    with EchoServer() as echo:
        assert (
            idmap("servers", "add", "jellyfin", "echo", "--url", echo.url, "--token", SECRET, "--no-check").exit_code
            == 0
        )
        failed = idmap("sync", "echo")
        stats = idmap("stats", "--json")
    assert failed.exit_code == 1 and "HTTP 400" in failed.output
    fragments = {SECRET[:n] for n in range(4, len(SECRET) + 1)}  # the token cut anywhere after 4 characters
    for text_seen in (failed.output, stats.output, _dump(db_url)):
        assert not any(fragment in text_seen for fragment in fragments)
    assert "***" in failed.output  # scrubbed, then cut


def test_subsonic_errors_never_carry_the_password_in_any_form() -> None:
    class Leaky(LoopbackServer):
        def handle(self, request: Request) -> Response:
            echoed = f"bad request u={request.query.get('u')} p={request.query.get('p')} pw={PASSWORD}"
            body = {"subsonic-response": {"status": "failed", "version": "1.12.0", "error": {"code": 0,
                    "message": echoed}}}  # fmt: skip
            return Response(200, json.dumps(body).encode())

    with Leaky() as leaky:
        config = ServerConfig("nd", "subsonic", leaky.url, user="alice", password=PASSWORD)
        with pytest.raises(ServerError) as failure:
            list(SubsonicServer(config).iter_artists())
    message = str(failure.value)
    assert PASSWORD not in message and PASSWORD.encode().hex() not in message and "***" in message
