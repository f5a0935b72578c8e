"""The web pages in a real browser: headless Chromium against ``idmap serve`` over the demo's fake servers.

One story, step by step, each step checked in the database: log in, sync with the
progress shown live, review with the keyboard and the mouse, undo, merge and split from
an entity page; and the refusals (a wrong key, a form without its CSRF token) and a
hostile name shown as text. The tests of this module run in order on one browser.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from soulsync_idmap.demo import TOKEN
from soulsync_idmap.demo.covers import cover_svg
from soulsync_idmap.demo.loopback import Fault
from soulsync_idmap.mapping.store import table
from soulsync_idmap.service.web.covers import PLACEHOLDER
from tests.web.conftest import DESKTOP, PHONE, SHOTS, Site
from tests.web.library import HOSTILE


def wait(check: Callable[[], Any], timeout: float = 20.0, what: str = "the page") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:  # an element not there yet, or replaced while read
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def flashed(browser: Any, message: str) -> None:
    """Wait for the flash message of the page an action loads (the old page shows the last one)."""
    wait(lambda: message in css(browser, "#flash").text, what=f"the message {message!r}")


def css(browser: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, selector)


def query(site: Site, statement: Any) -> list[Any]:
    store = site.store()
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(statement).all())
    finally:
        store.close()


def review_status(site: Site, review_id: int) -> str:
    review = table("review_item")
    return str(query(site, select(review.c.status).where(review.c.id == review_id))[0][0])


def screenshot(browser: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        browser.set_window_size(width, height)
        time.sleep(0.2)
        browser.save_screenshot(str(SHOTS / f"{name}-{label}.png"))
    browser.set_window_size(*DESKTOP)
    dark = [{"name": "prefers-color-scheme", "value": "dark"}]
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": dark})
    try:
        assert browser.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(18, 20, 24)"
        browser.save_screenshot(str(SHOTS / f"{name}-dark.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def logged_in(site: Site, browser: Any) -> Any:
    """The browser, logged in (through the login form when it is not yet)."""
    if browser.get_cookie("idmap_session") is None:
        browser.get(site.url + "/login")
        css(browser, "#key").send_keys(site.serve.key)
        css(browser, "#login").click()
        wait(lambda: browser.get_cookie("idmap_session"), what="the session cookie")
    return browser


def session_client(site: Site, browser: Any) -> httpx.Client:
    """An HTTP client holding the browser's session cookie (to send what no page would)."""
    cookie = logged_in(site, browser).get_cookie("idmap_session")
    return httpx.Client(base_url=site.url, cookies={"idmap_session": cookie["value"]}, timeout=10)


def test_a_wrong_key_is_refused_and_the_right_one_logs_in(site: Site, browser: Any) -> None:
    browser.get(site.url + "/review")
    assert browser.current_url.startswith(site.url + "/login?next=")
    css(browser, "#key").send_keys("not-the-key-0123456789")
    css(browser, "#login").click()
    assert "not the API key" in wait(lambda: css(browser, "#login-error").text)
    assert browser.get_cookie("idmap_session") is None
    css(browser, "#key").send_keys(site.serve.key)
    css(browser, "#login").click()
    wait(lambda: browser.current_url.startswith(site.url + "/review"), what="the review page after login")
    cookie = browser.get_cookie("idmap_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    browser.get(site.url + "/")
    rows = [r.get_attribute("data-server") for r in browser.find_elements("css selector", "#servers tbody tr")]
    assert rows == ["demo-jellyfin", "demo-plex"]
    page = browser.page_source
    assert site.serve.key not in page and TOKEN not in page and site.serve.key not in browser.current_url
    assert "active" in css(browser, 'tr[data-server="demo-plex"]').text


def test_make_active(site: Site, browser: Any) -> None:
    logged_in(site, browser)
    browser.get(site.url + "/")
    css(browser, 'tr[data-server="demo-jellyfin"] button.activate').click()
    flashed(browser, "demo-jellyfin is now the active server")
    server = table("server")
    assert query(site, select(server.c.name).where(server.c.active.is_(True))) == [("demo-jellyfin",)]


def test_a_full_sync_behind_a_confirmation_shows_its_progress_to_the_end(site: Site, browser: Any) -> None:
    logged_in(site, browser)
    run = table("sync_run")
    before = query(site, select(func.count()).select_from(run))[0][0]
    # Slow listings (the fake answers each after 0.6 s) so that the sync is seen running.
    site.plex.inject(*[Fault("delay", seconds=0.6, path_prefix="/library/sections/") for _ in range(6)])
    browser.get(site.url + "/")
    css(browser, 'tr[data-server="demo-plex"] button.sync-full').click()
    assert "re-reads the whole library" in wait(lambda: css(browser, "#question").text)
    css(browser, "#confirm").click()
    seen: list[str] = []

    def finished() -> bool:
        done = css(browser, "#job").get_attribute("data-status") == "ok"
        state = css(browser, "#job-state").text
        if not seen or seen[-1] != state:
            seen.append(state)
        return done

    wait(finished, timeout=60, what="the sync to finish")
    assert any(s.startswith("Syncing demo-plex") for s in seen), seen
    assert seen[-1] == "Sync of demo-plex finished: ok (full)"
    detail = css(browser, "#job-detail").text
    assert detail.startswith("tracks · 25 of 25 · demo-plex: full, 39 seen"), detail
    assert css(browser, "#job .fill").get_attribute("style") == "width: 100%;"
    last = query(site, select(run.c.mode, run.c.status, run.c.seen).order_by(run.c.id.desc()).limit(1))
    assert query(site, select(func.count()).select_from(run))[0][0] == before + 1
    assert last == [("full", "ok", 39)]
    wait(lambda: "full" in css(browser, "#runs tbody tr").text, what="the runs table to refresh")
    screenshot(browser, "dashboard")


def test_accept_with_the_keyboard_reject_with_the_mouse_and_undo(site: Site, browser: Any) -> None:
    logged_in(site, browser)
    from selenium.webdriver.common.action_chains import ActionChains

    browser.get(site.url + "/review")
    first = int(css(browser, "#queue li.current a").get_attribute("data-id"))
    durations = [css(browser, f"#side-{side} dd[data-field=duration]").text for side in "ab"]
    assert durations == ["6:19", "6:31"]  # Angel, m:ss
    assert "diff" in css(browser, "#side-a dd[data-field=duration]").get_attribute("class")
    assert "diff" not in css(browser, "#side-a dd[data-field=title]").get_attribute("class")
    assert css(browser, "#reasons li").text.startswith("duration")  # the deciding reason first
    covers = [img.get_attribute("src") for img in browser.find_elements("css selector", ".side img.cover")]
    assert all("/cover/" in src and TOKEN not in src for src in covers), covers
    screenshot(browser, "review")
    ActionChains(browser).send_keys("a").perform()
    wait(lambda: int(css(browser, "#queue li.current a").get_attribute("data-id")) != first, what="the next proposal")
    assert review_status(site, first) == "accepted"
    assert f"accepted proposal #{first}" in css(browser, "#flash").text
    second = int(css(browser, "#queue li.current a").get_attribute("data-id"))
    css(browser, "#reject").click()
    wait(lambda: int(css(browser, "#queue li.current a").get_attribute("data-id")) != second, what="the next one")
    assert review_status(site, second) == "rejected"
    change = table("change")
    feed = query(site, select(change.c.type).order_by(change.c.id.desc()).limit(1))
    assert feed == [("rejected",)]
    ActionChains(browser).send_keys("u").perform()
    wait(lambda: int(css(browser, "#queue li.current a").get_attribute("data-id")) == second, what="the undone one")
    assert review_status(site, second) == "pending" and review_status(site, first) == "accepted"
    assert query(site, select(change.c.type).order_by(change.c.id.desc()).limit(1)) == [("undone",)]

    def current() -> int:
        return int(css(browser, "#queue li.current a").get_attribute("data-id"))

    ActionChains(browser).send_keys("j").perform()
    third = wait(lambda: current() != second and current(), what="j to move on")
    ActionChains(browser).send_keys("k").perform()
    wait(lambda: current() == second, what="k to move back")
    ActionChains(browser).send_keys("s").perform()
    wait(lambda: current() == third, what="s to skip")
    assert review_status(site, second) == "pending"  # skipping decides nothing


def test_merge_split_and_undo_from_an_entity_page(site: Site, browser: Any) -> None:
    logged_in(site, browser)
    track = table("track")
    (a_uuid,), (b_uuid,) = query(site, select(track.c.uuid).where(track.c.title.in_(["Sour Times", "Strangers"]))
                                 .order_by(track.c.title))  # fmt: skip
    browser.get(site.url + "/entities?q=Sour")
    css(browser, "#results a").click()
    wait(lambda: css(browser, "#entity-uuid").text == a_uuid, what="the entity page")
    css(browser, "#merge-other").send_keys(b_uuid)
    css(browser, "#merge").click()
    flashed(browser, "merged")
    redirect = table("redirect")
    assert query(site, select(redirect.c.new_uuid).where(redirect.c.old_uuid == b_uuid)) == [(a_uuid,)]
    links = [r.text for r in browser.find_elements("css selector", "#links tbody tr")]
    assert len(links) == 4, links  # both tracks on both servers
    css(browser, "#split-server").send_keys("demo-jellyfin")
    css(browser, "#split").click()
    flashed(browser, "split demo-jellyfin's links off as")
    link, server = table("link"), table("server")
    on_jellyfin = select(link.c.uuid).join(server, server.c.id == link.c.server_id).where(
        server.c.name == "demo-jellyfin", link.c.native_id.in_(
            select(link.c.native_id).where(link.c.uuid != a_uuid)))  # fmt: skip
    assert a_uuid not in {u for (u,) in query(site, on_jellyfin)}
    undo = browser.find_elements("css selector", "#history button.undo-decision")[0]  # the newest: the split
    undo.click()
    flashed(browser, "undid split")
    assert len(browser.find_elements("css selector", "#links tbody tr")) == 4
    decision = table("decision")
    rows = query(site, select(decision.c.action, decision.c.undone_at.is_not(None), decision.c.source)
                 .order_by(decision.c.id.desc()).limit(2))  # fmt: skip
    assert rows == [("split", True, "web"), ("merge", False, "web")]
    browser.get(site.url + f"/entities/{b_uuid}")  # a merged-away UUID shows its survivor
    wait(lambda: css(browser, "#entity-uuid").text == a_uuid, what="the survivor")


def test_an_action_without_its_csrf_token_is_refused(site: Site, browser: Any) -> None:
    logged_in(site, browser)
    review = table("review_item")
    (pending,) = query(site, select(review.c.id).where(review.c.status == "pending").limit(1))[0]
    with session_client(site, browser) as client:
        refused = client.post(f"/review/{pending}/accept", data={})
        wrong = client.post(f"/review/{pending}/accept", data={"csrf": "0" * 64})
        anonymous = httpx.post(f"{site.url}/review/{pending}/accept", data={"csrf": "x"})
        sync = client.post("/sync", data={"server": "*"})
    assert refused.status_code == 403 and "security token" in refused.text
    assert wrong.status_code == 403 and anonymous.status_code == 401 and sync.status_code == 403
    assert review_status(site, pending) == "pending"
    browser.get(site.url + "/")  # the page itself still works
    assert css(browser, "#pending").text.isdigit()


def test_a_hostile_name_is_shown_as_text(site: Site, browser: Any) -> None:
    logged_in(site, browser)
    artist = site.plex.rating_key("artist", "9101")
    browser.get(site.url + f"/entities?q={artist}")
    name = wait(lambda: css(browser, "#entity-name"), what="the entity page")
    assert name.text == HOSTILE
    assert not name.find_elements("css selector", "b, script")
    assert browser.title != "pwned"
    browser.get(site.url + "/entities?q=%3Cscript")
    assert HOSTILE in css(browser, "#results").text
    assert browser.title != "pwned"


def test_covers_come_through_the_service(site: Site, browser: Any) -> None:
    logged_in(site, browser)
    album = site.plex.rating_key("album", "9002")
    with session_client(site, browser) as client:
        answer = client.get(f"/cover/demo-plex/{album}")
        jellyfin = client.get(f"/cover/demo-jellyfin/{site.jellyfin.native_id('album', 'ma-album')}")
        missing = client.get("/cover/demo-plex/999")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    assert answer.content == cover_svg("Mezzanine")  # the fake Plex's thumb, fetched with its token
    assert "sandbox" in answer.headers["content-security-policy"]
    assert jellyfin.content == cover_svg("Mezzanine")
    assert missing.status_code == 200 and missing.content == PLACEHOLDER  # no cover: a neutral one
    assert httpx.get(f"{site.url}/cover/demo-plex/{album}").status_code == 401
