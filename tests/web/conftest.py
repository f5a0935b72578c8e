"""A real service on 127.0.0.1 over the demo's fake Plex and Jellyfin, and one headless Chromium per module."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap.config import Config
from soulsync_idmap.demo import TOKEN
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.fake_plex import FakePlex
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.sync import SyncOptions, sync_servers
from tests.service.conftest import Running, running_service
from tests.web.library import write_libraries

CHROMIUM = os.environ.get("IDMAP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("IDMAP_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
DESKTOP, PHONE = (1280, 900), (390, 844)
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


@dataclass
class Site:
    serve: Running
    db_url: str
    plex: FakePlex
    jellyfin: FakeJellyfin

    @property
    def url(self) -> str:
        return self.serve.url

    def store(self) -> Store:
        return Store.open(self.db_url)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    plex_library, jelly_library = write_libraries(folder / "libraries")
    with FakePlex(plex_library, token=TOKEN) as plex, FakeJellyfin(jelly_library, token=TOKEN) as jelly:
        assert isinstance(plex, FakePlex) and isinstance(jelly, FakeJellyfin)
        db_url = f"sqlite:///{folder / 'idmap.db'}"
        store = Store.open(db_url)
        config = Config(folder / "config.json")
        store.add_server("demo-plex", "plex", plex.url, {})
        store.add_server("demo-jellyfin", "jellyfin", jelly.url, {"path_map": [["/data/media", "/music"]]})
        store.activate("demo-plex")
        for name in ("demo-plex", "demo-jellyfin"):
            config.set_secrets(name, token=TOKEN)
        config.save()
        sync_servers(store, ["demo-plex", "demo-jellyfin"], config, SyncOptions())
        store.close()
        with running_service(db_url, folder / "config.json") as serve:
            yield Site(serve, db_url, plex, jelly)


def _need(path: str, package: str) -> None:
    if shutil.which(path) is None and not Path(path).exists():
        reason = f"{path} is missing: 'make browser' installs Debian's {package}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    """One headless Chromium for the module (Debian's chromium and chromium-driver, driven by Selenium)."""
    _need(CHROMIUM, "chromium")
    _need(CHROMEDRIVER, "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    size = f"--window-size={DESKTOP[0]},{DESKTOP[1]}"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", size,
                 "--force-color-profile=srgb", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
