"""The sync engine: drive one server through matching into the store.

One path for every server: a reader thread lists the server (``MediaServer``) a couple of
batches ahead; the writer applies each batch in one transaction. Full sync streams every
artist, then album, then track, and afterwards marks as gone the links whose items the
server no longer lists. Incremental sync asks the server what changed since the
watermark; it lists every id (for removals and re-keys) only when the server's exact
counts and a sample of known ids do not prove that nothing disappeared. The watermark moves
only when a run completes, so a run that dies is simply redone (already-written batches
are skipped by fingerprint) and never causes removals from a partial listing.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, exists, func, select, update

from ..config import Config
from ..errors import ConfigError, SyncInterrupted, Unsupported
from ..mapping.bulk import chunked, one_array
from ..mapping.changes import ChangeRow, record_changes
from ..mapping.indexes import drop_deferrable, restore_indexes
from ..mapping.models import Server
from ..mapping.store import Store, server_settings, table, utcnow
from ..matching import Thresholds
from ..servers import KINDS, MediaServer, ServerItem, Skipped
from .adapters import open_adapter
from .batch import BatchWriter, Counts, prepare
from .lock import SyncLock
from .parents import ParentLinks
from .reader import read_ahead

__all__ = ["Progress", "SyncOptions", "SyncResult", "ingest", "sync_server", "sync_servers"]

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Told as a sync goes: the server, the phase ("artists", "tracks", "changes", "building
    indexes"...), items done in the phase, and the phase's total where it is known (the
    server's own count, or the id listing's length)."""

    def __call__(self, server: str, phase: str, done: int, total: int | None = None) -> None: ...


SKIPPED_LOGGED = 20  # warnings for skipped items per run; the rest are counted in one line
CHANGES_HELD = 20_000  # changes held in memory while deciding whether the id listing is needed
PROBE_IDS = 100  # live links per kind fetched by id to check that counts did not balance by chance


@dataclass(frozen=True)
class SyncOptions:
    full: bool = False
    batch_size: int = 2000
    full_every_days: float = 7.0
    watermark_margin: timedelta = timedelta(minutes=10)
    thresholds: Thresholds = field(default_factory=Thresholds)
    lock_wait: float = 0.0

    @classmethod
    def from_config(cls, config: Config, *, full: bool = False, lock_wait: float = 0.0) -> SyncOptions:
        sync = config.section("sync")
        return cls(
            full=full,
            batch_size=int(sync.get("batch_size", 2000)),
            full_every_days=float(sync.get("full_every_days", 7.0)),
            watermark_margin=timedelta(seconds=float(sync.get("watermark_margin_seconds", 600))),
            thresholds=thresholds_from(config),
            lock_wait=lock_wait,
        )


def thresholds_from(config: Config) -> Thresholds:
    """The matching thresholds of the config file's ``matching`` section (defaults otherwise)."""
    matching = config.section("matching")
    try:
        return Thresholds(**matching) if matching else Thresholds()
    except TypeError as exc:
        raise ConfigError(f"config section 'matching': {exc}") from None


@dataclass
class SyncResult:
    server: str
    mode: str
    counts: Counts
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    run_id: int | None = None
    status: str = "running"  # ok | failed | interrupted once finished
    skipped: list[Skipped] = field(default_factory=list)
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status in ("ok", "running")


class _Run:
    """One sync of one server (or one import into it)."""

    def __init__(self, store: Store, server: Server, options: SyncOptions, progress: Progress | None) -> None:
        assert server.id is not None
        self.store = store
        self.server = server
        self.server_id = server.id
        self.options = options
        self.progress = progress
        self.now = utcnow()
        self.counts = Counts()
        settings = server_settings(server)
        self.path_map = tuple((str(a), str(b)) for a, b in settings.get("path_map", []))
        self.writers: dict[str, BatchWriter] = {}
        self.first = False  # the server had no link when this run began (set by ``full``)
        self.skipped: list[Skipped] = []
        self.adapter: MediaServer | None = None  # set by full/incremental (an import has none)
        self.asked: set[tuple[str, str]] = set()  # parents fetched by id in this run
        self.parent_links = ParentLinks()  # this server's artists and albums by native id, as the run met them
        self.token: str | None = None  # the server's change counter as the run began
        # Per kind: entities whose live link here is disappearing in this run, by UUID, with
        # that link's native id (see BatchWriter.released).
        self.released: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        self.was_released: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}  # as the run began

    def writer(self, kind: str) -> BatchWriter:
        if kind not in self.writers:
            self.writers[kind] = BatchWriter(
                self.server_id,
                kind,
                self.options.thresholds,
                self._needs_matching(kind),
                self.counts,
                written=set() if self.first else None,
                released=self.released[kind],
                link_parents=self._link_parents if self.adapter is not None else None,
                parent_links=self.parent_links,
            )
        return self.writers[kind]

    def _link_parents(self, conn: Connection, kind: str, native_ids: list[str]) -> bool:
        """Fetch parents that no listing brought (each asked once a run) and write them in ``conn``."""
        wanted = [n for n in native_ids if (kind, n) not in self.asked]
        if not wanted or self.adapter is None:
            return False
        self.asked.update((kind, n) for n in wanted)
        try:
            found = list(self.adapter.fetch(kind, wanted))  # type: ignore[arg-type]
        except Unsupported:
            return False
        if found:
            self.writer(kind).write(conn, prepare(found, self.path_map, keys=False), self.now)
        return bool(found)

    def _needs_matching(self, kind: str) -> bool:
        """Matching is needed once an entity may stand for a new item: one another server
        (also a removed one) links, one this server lost (a gone link, or one disappearing
        in this run), or one with no live link at all.

        One probe per server, each answered by an index (the unique native-id index for
        other servers, the partial tombstone index for this one): a single OR query
        scanned every link. The last probe runs only when the others found nothing.
        """
        if self.released[kind]:
            return True
        link, server, entity = table("link"), table("server"), table(kind)
        with self.store.engine.connect() as conn:
            for server_id in conn.execute(select(server.c.id)).scalars():
                wanted = [link.c.server_id == server_id, link.c.kind == kind]
                if server_id == self.server_id:
                    wanted.append(link.c.gone_at.is_not(None))
                if conn.execute(select(exists().where(*wanted))).scalar():
                    return True
            live = exists().where(link.c.uuid == entity.c.uuid, link.c.gone_at.is_(None))
            return conn.execute(select(entity.c.uuid).where(~live).limit(1)).first() is not None

    def ingest(self, items: Iterable[ServerItem], phase: str | None, seen: dict[str, list[tuple[str, ...]]] | None,
               *, first: bool = False, totals: dict[str, int | None] | None = None) -> None:  # fmt: skip
        """Write ``items`` (parents first), batch by batch, each batch one transaction.

        On a server's ``first`` sync every item is inserted: the reader works out its keys.
        Without a ``phase`` name, progress is reported per kind ("artists", "albums", "tracks").
        ``seen`` collects the native ids written, per kind (for removal detection).
        ``totals``: each phase's total, where known (for progress).
        """
        done: dict[str, int] = {}
        written: dict[str, int] = {}  # batches per kind
        for batch in read_ahead(items, self.options.batch_size, self.path_map, keys=first):
            kind = batch[0].item.kind
            with self.store.begin() as conn:
                self.writer(kind).write(conn, batch, self.now)
            count = written[kind] = written.get(kind, 0) + 1
            if self.store.dialect == "postgresql" and count & (count - 1) == 0:
                self._analyze(kind)
            name = phase or f"{kind}s"
            number = done[name] = done.get(name, 0) + len(batch)
            if seen is not None:
                # a tuple of strings per batch: the garbage collector stops tracking it, where a
                # list of a million ids would be walked by every full collection
                seen[kind].append(tuple(p.item.native_id for p in batch))
            if self.progress:
                self.progress(self.server.name, name, number, (totals or {}).get(name))

    def _analyze(self, kind: str) -> None:
        """Refresh PostgreSQL's statistics as the tables grow (after batches 1, 2, 4, 8...).

        A bulk load outruns autovacuum: with the statistics of an empty table the planner
        reads (server, kind) from the unique index and filters the native ids, scanning every
        link of the server per batch. log2(batches) ANALYZE runs keep the plans right.
        """
        with self.store.engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE link, {kind}")
            conn.commit()

    def full(self, adapter: MediaServer) -> None:
        self.adapter = adapter
        self.token = adapter.change_token()  # taken before reading: a change during the run moves it
        seen: dict[str, list[tuple[str, ...]]] = {kind: [] for kind in KINDS}
        link = table("link")
        with self.store.begin() as conn:
            first = conn.execute(select(link.c.id).where(link.c.server_id == self.server_id).limit(1)).first() is None
            self.first = first
            # Into an empty database: secondary indexes are built once at the end (mapping/indexes.py).
            deferred = first and conn.execute(select(link.c.id).limit(1)).first() is None
            if deferred:
                drop_deferrable(conn)  # built at the end, with any an interrupted first sync left out
        totals: dict[str, int | None] = {}
        if not first:
            # Reconcile before minting: what disappeared from the listing is known before any
            # new item is matched, so a re-keyed item takes its old entity (a relink).
            for kind in KINDS:
                listed = list(adapter.all_ids(kind))
                totals[f"{kind}s"] = len(listed)
                self.released[kind] = self._released(kind, listed)
                self.was_released[kind] = dict(self.released[kind])
        else:
            totals = {f"{kind}s": adapter.total(kind) for kind in KINDS}

        def every() -> Iterator[ServerItem]:
            # One read-ahead for the three kinds: the reader goes on to the albums while the
            # writer finishes the artists (parents still arrive first).
            yield from adapter.iter_artists()
            yield from adapter.iter_albums()
            yield from adapter.iter_tracks()

        try:
            self.ingest(every(), None, seen, first=first, totals=totals)
        finally:
            if deferred:
                if self.progress:
                    self.progress(self.server.name, "building indexes", 0, None)
                restore_indexes(self.store.engine)
                if self.progress:
                    self.progress(self.server.name, "building indexes", 1, 1)
        skipped = self._take_skipped(adapter)
        for kind in KINDS:
            # a skipped item is still on the server: its link (if it has one) is not gone
            listed = [native_id for ids in seen[kind] for native_id in ids]
            listed.extend(s.native_id for s in skipped if s.kind == kind and s.native_id is not None)
            self.mark_gone(kind, listed)

    def incremental(self, adapter: MediaServer, watermark: datetime) -> None:
        """What changed since the watermark, made complete by the id listing when needed.

        The changes are read first. When the server's exact counts equal the live links plus
        the new ids the changes bring, and a sample of known ids is all still there, no id
        disappeared: the changes are the whole story and the listing (as long as a full
        read on Plex) is skipped. Otherwise the listing comes first: ids that disappeared
        release their entities to the new items (a re-key is a relink), and ids listed but
        never linked (items whose dates did not move, a guest artist) are fetched by id,
        parents first, before the changes. Either way the ids a run skipped before are
        asked again, and after a run every listed id is linked.
        """
        self.adapter = adapter
        # The adapter compares against our own clock (a local file's time), without the skew margin.
        if adapter.unchanged_since(watermark):
            return  # the source vouches that nothing was added, changed or removed
        self.token = adapter.change_token()
        if self.token is not None:
            with self.store.engine.connect() as conn:
                if _digests(conn, self.server_id).get("token") == self.token:
                    return  # the server's own change counter has not moved since the last completed run
        changes = adapter.changed_since(watermark - self.options.watermark_margin)
        held = list(itertools.islice(changes, CHANGES_HELD))
        skipped_before = self._skipped_before()
        if len(held) < CHANGES_HELD and self._nothing_disappeared(adapter, held, skipped_before):
            log.info("%s: counts agree and sampled ids are present; no id listing needed", self.server.name)
            changed = {(i.kind, i.native_id) for i in held}
            retry = {kind: [n for n in ids if (kind, n) not in changed] for kind, ids in skipped_before.items()}
            if any(retry.values()):
                self.ingest(_fetched(adapter, retry), "skipped before", None)
            self.ingest(held, "changes", None, totals={"changes": len(held)})
            self._take_skipped(adapter)
            return
        listed: dict[str, list[str]] = {}
        for kind in KINDS:
            listed[kind] = list(adapter.all_ids(kind))
            if self.progress:
                self.progress(self.server.name, f"{kind} ids", len(listed[kind]), len(listed[kind]))
            self.released[kind] = self._released(kind, listed[kind])
            self.was_released[kind] = dict(self.released[kind])
        missing: dict[str, list[str]] = {kind: self._unlinked(kind, listed[kind]) for kind in KINDS}
        for kind in KINDS:
            missing[kind].extend(n for n in skipped_before[kind] if n not in set(missing[kind]))
        if any(missing.values()):
            self.ingest(
                _fetched(adapter, missing), "unlinked", None, totals={"unlinked": sum(map(len, missing.values()))}
            )
        fetched = {(kind, native_id) for kind, ids in missing.items() for native_id in ids}
        rest = itertools.chain(held, changes)
        self.ingest((i for i in rest if (i.kind, i.native_id) not in fetched), "changes", None)
        self._take_skipped(adapter)
        for kind in KINDS:
            self.mark_gone(kind, listed[kind])

    def _skipped_before(self) -> dict[str, list[str]]:
        """The ids the last completed run of this server skipped, per kind (asked again)."""
        runs, skipped = table("sync_run"), table("skipped_item")
        found: dict[str, list[str]] = {kind: [] for kind in KINDS}
        with self.store.engine.connect() as conn:
            last = conn.execute(
                select(func.max(runs.c.id)).where(runs.c.server_id == self.server_id, runs.c.status == "ok")
            ).scalar_one_or_none()
            if last is None:
                return found
            rows = conn.execute(
                select(skipped.c.kind, skipped.c.native_id).where(skipped.c.run_id == last,
                                                                  skipped.c.native_id.is_not(None))
            )  # fmt: skip
            for kind, native_id in rows:
                if kind in found and native_id not in found[kind]:
                    found[kind].append(native_id)
        return found

    def _nothing_disappeared(self, adapter: MediaServer, held: list[ServerItem],
                             skipped_before: dict[str, list[str]]) -> bool:  # fmt: skip
        """True when the server's exact counts and a sample of known ids prove that no id of
        this server's live links disappeared since the last run (see ``incremental``).

        Per kind, the server's count must equal the live links plus the ids that have no live
        link among the changes and the ids skipped before (those still on the server). Equal
        counts could still hide as many removals as old-dated additions (a re-key that kept
        its dates), so up to ``PROBE_IDS`` live links chosen at random are fetched by id:
        one missing means the listing is needed. A removal the sample misses while the
        counts balance is found by the next listing (the weekly full sync at the latest).
        """
        link = table("link")
        for kind in KINDS:
            exact = adapter.count(kind)
            if exact is None:
                return False
            where = (link.c.server_id == self.server_id, link.c.kind == kind, link.c.gone_at.is_(None))
            ids = {i.native_id for i in held if i.kind == kind} | set(skipped_before[kind])
            ids.update(s.native_id for s in adapter.skipped if s.kind == kind and s.native_id)  # skipped just now
            with self.store.engine.connect() as conn:
                live = conn.execute(select(func.count()).select_from(link).where(*where)).scalar_one()
                known: set[str] = set()
                for chunk in chunked(sorted(ids)):
                    known.update(conn.execute(select(link.c.native_id).where(*where, link.c.native_id.in_(chunk)))
                                 .scalars())  # fmt: skip
                sample = list(
                    conn.execute(select(link.c.native_id).where(*where).order_by(func.random()).limit(PROBE_IDS))
                    .scalars()
                )  # fmt: skip
            if exact != live + len(ids - known):
                log.debug("%s: %d %ss listed, %d live links and %d new ids: the listing is needed",
                          self.server.name, exact, kind, live, len(ids - known))  # fmt: skip
                return False
            if sample:
                before = len(adapter.skipped)
                try:
                    present = {i.native_id for i in adapter.fetch(kind, sample)}
                except Unsupported:
                    return False
                present.update(s.native_id for s in adapter.skipped[before:] if s.native_id)
                if not present.issuperset(sample):
                    log.debug("%s: %d of %d sampled %s ids are gone: the listing is needed",
                              self.server.name, len(set(sample) - present), len(sample), kind)  # fmt: skip
                    return False
        return True

    def remember_token(self) -> None:
        """After a completed run: the change counter it began with (a failed run leaves the old one)."""
        with self.store.begin() as conn:
            stored = _digests(conn, self.server_id)
            if self.token is None:
                stored.pop("token", None)
            else:
                stored["token"] = self.token
            _store_digests(conn, self.server_id, stored)

    def _listing_unchanged(self, conn: Connection, kind: str, listed: list[str]) -> bool:
        """The listing is the last completed one's (digest) and as many links are live as then."""
        stored = _digests(conn, self.server_id).get(kind)
        if not isinstance(stored, list) or len(stored) != 2 or stored[0] != _digest(listed):
            return False
        link = table("link")
        where = (link.c.server_id == self.server_id, link.c.kind == kind)
        total = conn.execute(select(func.count()).select_from(link).where(*where)).scalar_one()
        gone = conn.execute(select(func.count()).select_from(link).where(*where, link.c.gone_at.is_not(None)))
        return bool(stored[1] == total - gone.scalar_one())

    def _released(self, kind: str, listed: list[str]) -> dict[str, str]:
        """The server's live links of ``kind`` that ``listed`` leaves out: UUID -> native id.

        An empty listing releases nothing (see ``mark_gone``: more likely a wrong library).
        """
        if not listed:
            return {}
        link = table("link")
        with self.store.engine.connect() as conn:
            if self._listing_unchanged(conn, kind, listed):
                return {}
            query = select(link.c.uuid, link.c.native_id).where(
                link.c.server_id == self.server_id, link.c.kind == kind, link.c.gone_at.is_(None),
                link.c.native_id.not_in(one_array(conn, sorted(set(listed)))),
            )  # fmt: skip
            return {uuid: native_id for uuid, native_id in conn.execute(query)}

    def _unlinked(self, kind: str, listed: list[str]) -> list[str]:
        """The listed ids that have no link on this server, in listing order."""
        if not listed:
            return []
        link = table("link")
        with self.store.engine.connect() as conn:
            if self._listing_unchanged(conn, kind, listed):
                return []
            query = select(link.c.native_id).where(link.c.server_id == self.server_id, link.c.kind == kind)
            known = set(conn.execute(query).scalars())
        return [native_id for native_id in dict.fromkeys(listed) if native_id not in known]

    def _take_skipped(self, adapter: MediaServer) -> list[Skipped]:
        """Count and report what the adapter skipped so far (one warning each, up to a cap)."""
        fresh = adapter.skipped[len(self.skipped) :]
        for item in fresh:
            if len(self.skipped) < SKIPPED_LOGGED:
                log.warning("%s: skipped %s %s: %s", self.server.name, item.kind, item.native_id or "(no id)",
                            item.reason)  # fmt: skip
            self.skipped.append(item)
        if fresh and len(self.skipped) > SKIPPED_LOGGED:
            log.warning("%s: %d more skipped items (see 'idmap sync --report')", self.server.name,
                        len(self.skipped) - SKIPPED_LOGGED)  # fmt: skip
        self.counts.skipped += len(fresh)
        return self.skipped

    def mark_gone(self, kind: str, listed: list[str]) -> None:
        """Tombstone live links the server no longer lists; revive listed gone ones.

        A listing equal to the last one (same ids in the same order, digest compared) with
        as many live links as then proves that nothing left or came back: a million
        links need not be compared. So does a server's first sync (``self.first``), whose
        every link came from this listing; it only records the digest. Otherwise the set
        difference runs in the database (the listed ids bound as ONE array parameter);
        gone links are few, so reviving compares them in Python.
        """
        link = table("link")
        where = (link.c.server_id == self.server_id) & (link.c.kind == kind)
        digest = _digest(listed)
        with self.store.begin() as conn:
            stored = _digests(conn, self.server_id)
            total = conn.execute(select(func.count()).select_from(link).where(where)).scalar_one()
            gone = conn.execute(
                select(link.c.id, link.c.native_id, link.c.uuid).where(where, link.c.gone_at.is_not(None))
            ).all()
            live = total - len(gone)
            if stored.get(kind) == [digest, live]:
                return
            if self.first and not gone:
                left, back = 0, []  # every link of the server came from this listing
            elif not listed:
                if live:
                    log.warning(
                        "%s listed no %ss while %d are linked; not marking them gone (an empty answer is more "
                        "likely a wrong library than an empty one)", self.server.name, kind, live,
                    )  # fmt: skip
                return
            else:
                present = set(listed)
                back = [r.id for r in gone if r.native_id in present]
                left_rows = conn.execute(
                    update(link)
                    .where(where, link.c.gone_at.is_(None), link.c.native_id.not_in(one_array(conn, sorted(present))))
                    .values(gone_at=self.now)
                    .returning(link.c.uuid, link.c.native_id)
                ).all()
                left = len(left_rows)
                for ids in chunked(back):
                    conn.execute(update(link).where(link.c.id.in_(ids)).values(gone_at=None, last_seen=self.now))
                # change feed: gone and revived links (a relinked one's old link was told as the relink)
                relinked = {u: n for u, n in self.was_released[kind].items() if u not in self.released[kind]}
                record_changes(conn, [
                    *(ChangeRow("gone", kind, u, self.server_id, n, at=self.now) for u, n in left_rows
                      if relinked.get(u) != n),
                    *(ChangeRow("revived", kind, r.uuid, self.server_id, r.native_id, at=self.now)
                      for r in gone if r.native_id in present),
                ])  # fmt: skip
            self.counts.gone += left
            self.counts.revived += len(back)
            stored[kind] = [digest, live - left + len(back)]
            _store_digests(conn, self.server_id, stored)


def _digest(listed: list[str]) -> str:
    return hashlib.blake2b("\n".join(listed).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _fetched(adapter: MediaServer, missing: dict[str, list[str]]) -> Iterator[ServerItem]:
    """The items of ``missing`` ids, fetched by id, parents first."""
    for kind in KINDS:
        if missing[kind]:
            try:
                yield from adapter.fetch(kind, missing[kind])
            except Unsupported:
                log.warning("%s: cannot fetch %d unlinked %ss by id; the next full sync links them",
                            adapter.name, len(missing[kind]), kind)  # fmt: skip


def _digests(conn: Connection, server_id: int) -> dict[str, Any]:
    server = table("server")
    text = conn.execute(select(server.c.listing_digest).where(server.c.id == server_id)).scalar_one_or_none()
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _store_digests(conn: Connection, server_id: int, stored: dict[str, Any]) -> None:
    server = table("server")
    conn.execute(update(server).where(server.c.id == server_id).values(listing_digest=json.dumps(stored)))


def _start_run(store: Store, server_id: int, mode: str, started: datetime) -> int:
    with store.begin() as conn:
        result = conn.execute(
            table("sync_run").insert().values(server_id=server_id, mode=mode, status="running", started_at=started)
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def _finish_run(store: Store, result: SyncResult) -> None:
    runs = table("sync_run")
    counts = {k: v for k, v in result.counts.as_dict().items() if k in runs.c}
    with store.begin() as conn:
        conn.execute(
            update(runs).where(runs.c.id == result.run_id).values(
                status=result.status, finished_at=result.finished_at, error=result.error, **counts,
            )
        )  # fmt: skip
        if result.skipped:  # what 'idmap sync --report' lists
            conn.execute(table("skipped_item").insert(), [
                {"run_id": result.run_id, "kind": s.kind, "native_id": s.native_id and s.native_id[:200],
                 "name": s.name and s.name[:500], "reason": s.reason[:1000]}
                for s in result.skipped
            ])  # fmt: skip


def _close_abandoned_runs(store: Store) -> None:
    """Runs still 'running' while we hold the sync lock: their process is gone (killed)."""
    runs = table("sync_run")
    with store.begin() as conn:
        conn.execute(
            update(runs).where(runs.c.status == "running").values(
                status="interrupted", finished_at=utcnow(), error="the process ended during the sync"
            )
        )  # fmt: skip


def choose_mode(server: Server, options: SyncOptions, now: datetime) -> str:
    if options.full or server.watermark is None or server.last_full_sync is None:
        return "full"
    if now - server.last_full_sync > timedelta(days=options.full_every_days):
        return "full"
    return "incremental"


def _sync_one(store: Store, name: str, config: Config, options: SyncOptions, progress: Progress | None,
              adapter: MediaServer | None) -> SyncResult:  # fmt: skip
    """Sync one server (the caller holds the lock). A failure is recorded on the result, not raised."""
    server = store.server(name)
    assert server.id is not None
    run = _Run(store, server, options, progress)
    mode = choose_mode(server, options, run.now)
    result = SyncResult(server=name, mode=mode, counts=run.counts, started_at=run.now, skipped=run.skipped)
    result.run_id = _start_run(store, server.id, mode, run.now)
    log.info("%s: sync starts", name)
    try:
        if adapter is None:
            adapter = open_adapter(server, config)
        try:
            _check_instance(store, server, adapter)
            if mode == "full":
                run.full(adapter)
            else:
                assert server.watermark is not None
                run.incremental(adapter, server.watermark)
        finally:
            adapter.close()
    except KeyboardInterrupt as exc:
        result.status, result.error, result.exception = "interrupted", "interrupted (Ctrl-C)", exc
    except SyncInterrupted as exc:
        result.status, result.error, result.exception = "interrupted", str(exc), exc
    except Exception as exc:  # recorded on the run, raised again by the caller that wants it
        result.status, result.error, result.exception = "failed", str(exc) or type(exc).__name__, exc
    else:
        result.status = "ok"
        run.remember_token()
        values: dict[str, Any] = {"watermark": run.now}
        if mode == "full":
            values["last_full_sync"] = run.now
        store.update_server(server.id, **values)
    result.finished_at = utcnow()
    _finish_run(store, result)
    return result


def sync_server(
    store: Store,
    name: str,
    config: Config,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
    adapter: MediaServer | None = None,
) -> SyncResult:
    """Sync one server (the caller holds the lock, or none is needed). Errors are recorded on the run and raised."""
    result = _sync_one(store, name, config, options or SyncOptions(), progress, adapter)
    if result.exception is not None:
        raise result.exception
    return result


def _check_instance(store: Store, server: Server, adapter: MediaServer) -> None:
    instance = adapter.instance_id()
    if server.instance_id is None:
        assert server.id is not None
        store.update_server(server.id, instance_id=instance)
    elif server.instance_id != instance:
        raise ConfigError(
            f"{server.name} now answers as another server instance ({instance}, was {server.instance_id}); "
            "its ids would not match: add it under a new name"
        )


@contextlib.contextmanager
def _collector_spared() -> Iterator[None]:
    """During a sync, the garbage collector leaves alone what existed before it.

    A full collection walks every object it tracks, and the matching caches alone hold
    hundreds of thousands of entries: a large sync ran a hundred full collections that
    walked them all (a third of its time). ``gc.freeze()`` moves what exists now out of
    the collector's reach; ``gc.unfreeze()`` brings it back afterwards. Skipped when the
    process has frozen objects of its own (it manages the collector itself).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def _syncing(store: Store, wait: float) -> Iterator[None]:
    """The sync lock, and what its holder owes the database first.

    Runs left 'running' by a process that died are marked interrupted, and secondary
    indexes that an interrupted first sync set aside are built (only a sync does this:
    readers never wait for it, and a read-only user can open the database meanwhile).
    """
    with SyncLock(store, wait=wait), _collector_spared():
        _close_abandoned_runs(store)
        restore_indexes(store.engine)
        yield


def sync_servers(
    store: Store, names: list[str], config: Config, options: SyncOptions | None = None,
    progress: Progress | None = None,
) -> list[SyncResult]:  # fmt: skip
    """Sync several servers one after another under one lock.

    A server that fails does not stop the others: every server gets a result, failed
    ones with their ``error``. Ctrl-C stops at once (the running server's result says
    ``interrupted``) and is raised again after the run is recorded.
    """
    options = options or SyncOptions()
    results = []
    with _syncing(store, options.lock_wait):
        for name in names:
            result = _sync_one(store, name, config, options, progress, None)
            results.append(result)
            if isinstance(result.exception, KeyboardInterrupt):
                raise result.exception
    return results


def ingest(
    store: Store, name: str, items: Iterable[ServerItem], options: SyncOptions | None = None,
    progress: Progress | None = None,
) -> Counts:  # fmt: skip
    """Link items from another source (an import) to server ``name``: no removals, no watermark.

    Items must come parents first (artists, then albums, then tracks).
    """
    run = _Run(store, store.server(name), options or SyncOptions(), progress)
    with _syncing(store, run.options.lock_wait):
        run.ingest(items, "import", None)
    return run.counts
