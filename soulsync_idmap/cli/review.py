"""``idmap review`` (interactive and scripted), ``merge``, ``split`` and ``undo``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import click
from rich.console import Console
from rich.table import Table

from ..errors import ReviewError
from ..mapping import merge as decisions
from ..mapping.review import Proposal, ReviewQueue
from ..sync.engine import thresholds_from
from .context import AppContext, emit_json, pass_app

__all__ = ["register"]


def _side_by_side(console: Console, p: Proposal) -> None:
    table = Table(f"#{p.id} {p.kind}", "A (kept)", "B", box=None, title=f"score {p.score:.2f}")
    keys = list((p.a or {}).keys() or (p.b or {}).keys())
    for key in keys:
        va, vb = (p.a or {}).get(key), (p.b or {}).get(key)
        style = "" if va == vb else "bold yellow"
        table.add_row(key, str(va if va is not None else ""), str(vb if vb is not None else ""), style=style)
    for label, links in (("A on", p.links_a), ("B on", p.links_b)):
        for lk in links:
            gone = " (gone)" if lk["gone"] else ""
            table.add_row(f"{label} {lk['server']}", f"{lk['native_id']}{gone}", str(lk["name"] or ""))
    console.print(table)
    worst = sorted(p.reasons.items(), key=lambda kv: kv[1])
    console.print("  " + ", ".join(f"{k} {v:.2f}" for k, v in worst))


@dataclass
class _Session:
    app: AppContext
    console: Console
    counts: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "rejected": 0, "skipped": 0, "undone": 0})
    done: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Choice:
    letter: str
    label: str
    act: Callable[[_Session, Proposal], str]  # returns "next", "stay" or "quit"


def _accept(s: _Session, p: Proposal) -> str:
    s.done.append(decisions.accept(s.app.store, p.id, source="review", thresholds=thresholds_from(s.app.config)))
    s.counts["accepted"] += 1
    return "next"


def _reject(s: _Session, p: Proposal) -> str:
    s.done.append(decisions.reject(s.app.store, p.id, source="review"))
    s.counts["rejected"] += 1
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
    s.console.print(f"undid {undone['action']} of {undone['uuid_a']} / {undone['uuid_b']}")
    return "restart"


def _others(s: _Session, p: Proposal) -> str:
    others = ReviewQueue(s.app.store).others(p)
    if not others:
        s.console.print("no other candidates for this item")
    for other in others:
        _side_by_side(s.console, other)
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
    if sys.stdin.isatty():
        click.echo(prompt + " ", nl=False)
        key = click.getchar()
        click.echo(key)
        return key.lower()
    return str(click.prompt(prompt, default="q", show_default=False)).strip().lower()[:1]


def _interactive(app: AppContext, kind: str | None) -> None:
    console = Console(soft_wrap=True)
    session = _Session(app, console)
    skipped: set[int] = set()
    letters = {c.letter: c for c in CHOICES}
    prompt = " ".join(c.label for c in CHOICES)
    while True:
        pending = [p for p in ReviewQueue(app.store).pending(kind=kind) if p.id not in skipped and not p.stale]
        if not pending:
            break
        proposal = pending[0]
        _side_by_side(console, proposal)
        outcome = "stay"
        while outcome == "stay":
            choice = letters.get(_ask(prompt))
            if choice is None:
                console.print("choose one of: " + prompt)
                continue
            try:
                outcome = choice.act(session, proposal)
            except ReviewError as exc:
                console.print(f"[red]{exc}[/]")
                outcome = "next"
        if outcome == "quit":
            break
        if outcome == "next" and choice is letters["s"]:
            skipped.add(proposal.id)
    c = session.counts
    console.print(f"accepted {c['accepted']}, rejected {c['rejected']}, skipped {c['skipped']}, undone {c['undone']}")


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
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_(app: AppContext, kind: str | None, min_score: float | None, as_json: bool) -> None:
    """List pending proposals, best score first."""
    proposals = ReviewQueue(app.store).pending(kind=kind, min_score=min_score)
    if as_json:
        emit_json([p.as_json() for p in proposals])
        return
    table = Table("id", "kind", "score", "A", "B", box=None)
    for p in proposals:
        name = "name" if p.kind == "artist" else "title"
        table.add_row(str(p.id), p.kind, f"{p.score:.2f}", str((p.a or {}).get(name, "(gone)")),
                      str((p.b or {}).get(name, "(gone)")))  # fmt: skip
    Console(soft_wrap=True).print(table)
    click.echo(f"{len(proposals)} pending")


@review.command("accept")
@click.argument("review_id", type=int, required=False)
@click.option("--above", type=click.FloatRange(0, 1), help="Accept every pending proposal scoring at least this.")
@pass_app
def accept_cmd(app: AppContext, review_id: int | None, above: float | None) -> None:
    """Accept proposal ID (merge), or all above a score."""
    if (review_id is None) == (above is None):
        raise click.UsageError("give a proposal ID or --above SCORE")
    ids = [review_id] if review_id is not None else [p.id for p in ReviewQueue(app.store).pending(min_score=above)]
    accepted = 0
    for rid in ids:
        try:
            decisions.accept(app.store, rid, thresholds=thresholds_from(app.config))
            accepted += 1
        except ReviewError as exc:
            if review_id is not None:
                raise
            click.echo(f"skipped: {exc}", err=True)
    click.echo(f"accepted {accepted}")


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
@click.option("--server", "server", required=True, help="The server whose links get their own entity.")
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
