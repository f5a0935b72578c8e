"""Fixtures for tests of the command line itself (prompts, tables, signals, conventions).

``local`` runs the CLI on a SQLite file. Such tests do not ask for ``db_url``, so the
PostgreSQL pass (which repeats only the tests that use the mapping database under test)
leaves them out: what they check does not depend on the database behind the command.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from soulsync_idmap.cli import cli
from tests.conftest import Invoke


@pytest.fixture
def local_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'local.db'}"


@pytest.fixture
def local(local_db: str, config_path: Path) -> Invoke:
    """Run the CLI against a SQLite file and this test's config; returns the click Result."""

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["--db", local_db, "--config", str(config_path), *args], input=input)

    return run
