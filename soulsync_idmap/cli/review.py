"""``idmap review`` (interactive and scripted), ``merge``, ``split`` and ``undo``."""

from __future__ import annotations

import logging
import os
import select
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from ..errors import ReviewError
from ..mapping import merge as decisions
from ..mapping.review import Proposal, ReviewQueue
from ..mapping.translate import follow_redirects
from ..sync.engine import thresholds_from
from . import fmt
from .context import AppContext, complete_server, emit_json, pass_app

__all__ = ["register"]

log = logging.getLogger("soulsync_idmap.cli.review")

VERSION_CONFLICT = "version_conflict"
# Reason keys that are penalties (present = something speaks against the merge), in words.
PENALTIES = {VERSION_CONFLICT: "versions differ (live, remix, edit...): never accepted in bulk"}
LABELS = {"name": "title", "artist_name": "artist", "album_name": "album", "sort_name": "sort name",
          "duration_ms": "duration", "track_number": "track", "disc_number": "disc", "mbid": "MusicBrainz id",
          "isrc": "ISRC", "path": "file"}  # fmt: skip


def _label(kind: str, key: str) -> str:
    return "name" if key == "name" and kind == "artist" else LABELS.get(key, key)


def _value(key: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if key == "duration_ms" and isinstance(value, int):
        seconds = round(value / 1000)
        return f"{seconds // 60}:{seconds % 60:02d}"
    return str(value)


def conflicts(p: Proposal) -> bool:
    return VERSION_CONFLICT in p.reasons


def why(p: Proposal) -> str:
    """The reasons, penalties first, then the weakest components: ``versions differ · duration 0.20 · ...``."""
    named = [PENALTIES[key] for key in p.reasons if key in PENALTIES]
    parts = sorted(((k, v) for k, v in p.reasons.items() if k not in PENALTIES), key=lambda kv: kv[1])
    return " · ".join(named + [f"{LABELS.get(k, k)} {v:.2f}" for k, v in parts])


def _name(p: Proposal, side: dict[str, Any] | None) -> str:
    return str((side or {}).get("name") or "(gone)")


def show(console: Console, p: Proposal, position: str = "") -> None:
    """Both sides aligned, differences highlighted, then each server's native ids, then why."""
    console.print(Text(f"{position}{p.kind} proposal #{p.id} · score {p.score:.2f}", style="bold"))
    grid = fmt.table("", "A (kept)", "B (merged into A)", wrap=("A (kept)", "B (merged into A)"))
    a, b = p.a or {}, p.b or {}
    for key in list(a.keys() or b.keys()):
        va, vb = _value(key, a.get(key)), _value(key, b.get(key))
        if not va and not vb:
            continue
        grid.add_row(_label(p.kind, key), va, vb, style="" if va == vb else "bold yellow")
    servers = list(dict.fromkeys(lk["server"] for lk in p.links_a + p.links_b))
    for server in servers:
        cells = []
        for links in (p.links_a, p.links_b):
            ids = [lk["native_id"] + (" (gone)" if lk["gone"] else "") for lk in links if lk["server"] == server]
            cells.append(", ".join(ids))
        grid.add_row(f"on {server}", *cells, style="dim")
    console.print(grid)
    line = Text("why: ", style="bold")
    line.append(why(p), style="bold red" if conflicts(p) else "")
    console.print(line)


@dataclass
class _Session:
    app: AppContext
    console: Console
    counts: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "rejected": 0, "skipped": 0, "undone": 0})
    done: list[int] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return f"accepted {c['accepted']}, rejected {c['rejected']}, skipped {c['skipped']}, undone {c['undone']}"


@dataclass(frozen=True)
class Choice:
    letter: str
    label: str
    act: Callable[[_Session, Proposal], str]  # returns "next", "stay", "restart" or "quit"


def _survivor(s: _Session, p: Proposal) -> str:
    with s.app.store.engine.connect() as conn:
        return follow_redirects(conn, [p.uuid_a])[p.uuid_a]


def _accept(s: _Session, p: Proposal) -> str:
    if conflicts(p):
        s.console.print("the versions differ; accept only if they are really the same recording", markup=False)
        if _ask("accept anyway? [y]es [n]o") != "y":
            return "stay"
    s.done.append(decisions.accept(s.app.store, p.id, source="review", thresholds=thresholds_from(s.app.config)))
    s.counts["accepted"] += 1
    kept = _survivor(s, p)
    log.debug("proposal %d accepted (decision %d): %s and %s are %s", p.id, s.done[-1], p.uuid_a, p.uuid_b, kept)
    s.console.print(f"merged {_name(p, p.b)!r} into {_name(p, p.a)!r}: both are now {kept}", markup=False)
    return "next"


def _reject(s: _Session, p: Proposal) -> str:
    s.done.append(decisions.reject(s.app.store, p.id, source="review"))
    s.counts["rejected"] += 1
    log.debug("proposal %d rejected (decision %d): %s and %s stay apart", p.id, s.done[-1], p.uuid_a, p.uuid_b)
    s.console.print(f"kept apart: {_name(p, p.a)!r} and {_name(p, p.b)!r}", markup=False)
    return "next"


def _skip(s: _Session, p: Proposal) -> str:
    s.counts["skipped"] += 1
    return "next"


def _undo(s: _Session, p: Proposal) -> str:
    if not s.done:
        s.console.print("nothing to undo in this session")
        return "stay"
    undone = decisions.undo(s.app.store, s.done.pop())
    s.counts["undone"] += 1
    s.console.print(f"undid the {undone['action']} of {undone['uuid_a']} / {undone['uuid_b']}", markup=False)
    return "restart"


def _others(s: _Session, p: Proposal) -> str:
    for other in ReviewQueue(s.app.store).others(p):
        show(s.console, other, "other candidate · ")
    return "stay"


def _quit(s: _Session, p: Proposal) -> str:
    return "quit"


CHOICES = (
    Choice("a", "[a]ccept", _accept),
    Choice("r", "[r]eject", _reject),
    Choice("s", "[s]kip", _skip),
    Choice("u", "[u]ndo", _undo),
    Choice("o", "[o]ther candidates", _others),
    Choice("q", "[q]uit", _quit),
)
assert len({c.letter for c in CHOICES}) == len(CHOICES), "duplicate choice letters"


def _ask(prompt: str) -> str:
    """One key on a terminal; one line otherwise (end of input means quit)."""
    click.echo(prompt + " ", nl=False)
    if sys.stdin.isatty():
        key = _read_key()
        click.echo(key if key.isprintable() else "")
        return key.lower()
    line = sys.stdin.readline()
    click.echo(line.strip())  # the answer, so a transcript of piped input reads like a session
    return line.strip().lower()[:1] if line else "q"


def _read_key() -> str:
    fd = sys.stdin.fileno()
    data = os.read(fd, 1)
    if not data:
        return "q"
    if data == b"\x1b":  # an arrow or function key: swallow the rest of its sequence
        while select.select([fd], [], [], 0.05)[0]:
            os.read(fd, 16)
        return "\x1b"
    if data == b"\x03":  # Ctrl-C where the terminal does not turn it into a signal
        raise KeyboardInterrupt
    return data.decode(errors="replace")


@contextmanager
def _single_keys() -> Iterator[None]:
    """The whole session in cbreak mode: one key answers, keys typed ahead are kept, Ctrl-C stays a signal."""
    if not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _offered(s: _Session, p: Proposal) -> list[Choice]:
    has_others = bool(ReviewQueue(s.app.store).others(p))
    return [c for c in CHOICES if (c.letter != "o" or has_others) and (c.letter != "u" or s.done)]


def _interactive(app: AppContext, kind: str | None) -> None:
    console = fmt.console()
    session = _Session(app, console)
    skipped: set[int] = set()
    try:
        with _single_keys():
            _loop(session, kind, skipped)
    except (KeyboardInterrupt, click.Abort):
        console.print(f"\ninterrupted: {session.summary()}", markup=False)
        raise click.exceptions.Exit(130) from None
    console.print(session.summary(), markup=False)


def _loop(session: _Session, kind: str | None, skipped: set[int]) -> None:
    handled = 0  # proposals this session moved past: "n of N" counts them
    while True:
        queue = [p for p in ReviewQueue(session.app.store).pending(kind=kind) if not p.stale]
        pending = [p for p in queue if p.id not in skipped]
        if not pending:
            if handled == 0:
                session.console.print("nothing to review: no pending proposals", markup=False)
            return
        proposal = pending[0]
        done_before = handled - len(skipped)  # decided ones have left the queue; skipped ones are still in it
        position = f"{handled + 1} of {len(queue) + done_before} · "
        show(session.console, proposal, position)
        outcome, letter = "stay", ""
        while outcome == "stay":
            offered = _offered(session, proposal)
            prompt = " ".join(c.label for c in offered)
            choice = {c.letter: c for c in offered}.get(_ask(prompt))
            if choice is None:
                session.console.print("choose one of: " + prompt, markup=False)
                continue
            letter = choice.letter
            try:
                outcome = choice.act(session, proposal)
            except ReviewError as exc:
                session.console.print(str(exc), style="red", markup=False)
                outcome = "next"
        if outcome == "quit":
            return
        if outcome == "next":
            handled += 1
            if letter == "s":
                skipped.add(proposal.id)
        elif outcome == "restart":
            handled = max(0, handled - 1)


@click.group(invoke_without_command=True)
@click.option("--kind", type=click.Choice(["artist", "album", "track"]))
@click.pass_context
def review(ctx: click.Context, kind: str | None) -> None:
    """Work through uncertain matches: accept (merge), reject, skip, undo."""
    if ctx.invoked_subcommand is None:
        _interactive(ctx.find_object(AppContext), kind)  # type: ignore[arg-type]


@review.command("list")
@click.option("--kind", type=click.Choice(["artist", "album", "track"]))
@click.option("--min-score", type=click.FloatRange(0, 1))
@click.option("--json", "as_json", is_flag=True, help="Print the proposals as a JSON array (both sides, reasons).")
@pass_app
def list_(app: AppContext, kind: str | None, min_score: float | None, as_json: bool) -> None:
    """List pending proposals, best score first."""
    proposals = ReviewQueue(app.store).pending(kind=kind, min_score=min_score)
    if as_json:
        emit_json([p.as_json() for p in proposals])
        return
    grid = fmt.table("id", "kind", "score", "A", "B", "why", numeric=("id", "score"), wrap=("why",))
    for p in proposals:
        grid.add_row(str(p.id), p.kind, f"{p.score:.2f}", _name(p, p.a), _name(p, p.b), why(p))
    fmt.console().print(grid)
    click.echo(f"{len(proposals)} pending")


@review.command("accept")
@click.argument("review_id", type=int, required=False)
@click.option(
    "--above",
    type=click.FloatRange(0, 1),
    help="Accept every pending proposal scoring at least this, except those whose versions differ.",
)
@pass_app
def accept_cmd(app: AppContext, review_id: int | None, above: float | None) -> None:
    """Accept proposal ID (merge), or all above a score."""
    if (review_id is None) == (above is None):
        raise click.UsageError("give a proposal ID or --above SCORE")
    queue = ReviewQueue(app.store)
    if review_id is not None:
        single = queue.get(review_id)
        if single is not None and conflicts(single):
            click.echo(f"note: proposal {review_id}: {PENALTIES[VERSION_CONFLICT].split(':')[0]}", err=True)
        decisions.accept(app.store, review_id)
        click.echo(f"accepted {review_id}")
        return
    wanted = queue.pending(min_score=above)
    held = [p for p in wanted if conflicts(p)]
    accepted = 0
    for p in wanted:
        if conflicts(p):
            log.debug("proposal %d (score %.2f) held back: %s", p.id, p.score, why(p))
            continue
        try:
            decision = decisions.accept(app.store, p.id, thresholds=thresholds_from(app.config))
            accepted += 1
            log.debug("proposal %d (score %.2f) accepted (decision %d)", p.id, p.score, decision)
        except ReviewError as exc:
            click.echo(f"skipped: {exc}", err=True)
    click.echo(f"accepted {accepted}")
    if held:
        ids = ", ".join(str(p.id) for p in held)
        click.echo(f"held back {len(held)} whose versions differ ({ids}): decide them with 'idmap review'", err=True)


@review.command("reject")
@click.argument("review_id", type=int)
@pass_app
def reject_cmd(app: AppContext, review_id: int) -> None:
    """Reject proposal ID: the two stay apart and are never proposed again."""
    decisions.reject(app.store, review_id)
    click.echo(f"rejected {review_id}")


@click.command()
@click.argument("uuid_a")
@click.argument("uuid_b")
@pass_app
def merge(app: AppContext, uuid_a: str, uuid_b: str) -> None:
    """Merge two entities of one kind; the older survives, the other redirects to it."""
    decision = decisions.merge(app.store, uuid_a, uuid_b, thresholds=thresholds_from(app.config))
    click.echo(f"merged (decision {decision}; 'idmap undo' reverts it)")


@click.command()
@click.argument("uuid")
@click.option("--server", "server", required=True, help="The server whose links get their own entity.",
              shell_complete=complete_server)  # fmt: skip
@pass_app
def split(app: AppContext, uuid: str, server: str) -> None:
    """Give SERVER's item(s) on UUID an entity of their own (a wrong merge undone by hand)."""
    decision, fresh = decisions.split(app.store, uuid, server)
    click.echo(f"{fresh} (decision {decision})")


@click.command()
@click.argument("decision_id", type=int, required=False)
@pass_app
def undo(app: AppContext, decision_id: int | None) -> None:
    """Undo the last decision (or DECISION_ID): merge, split, accept or reject."""
    undone = decisions.undo(app.store, decision_id)
    click.echo(f"undid {undone['action']} {undone['id']}")


def register(group: click.Group) -> None:
    for command in (review, merge, split, undo):
        group.add_command(command)
