"""The watched folder: a scanner (or a person) drops files into a folder; the portal takes each
one into intake once it is completely written, then moves it to ``done/`` or ``failed/``.

A file is taken only when its size and modification time have not changed for ``settle`` scans
in a row and it is at least ``min_age`` seconds old (scanners and SMB copies write in pieces), and
it is claimed by renaming it into ``.taking/`` first, so two watchers never take one file. After
``receive`` it goes to ``done/<time>-<name>``; a file intake refuses (empty, wrong kind, too large,
already received) goes to ``failed/<time>-<name>`` with ``<time>-<name>.reason.txt`` beside it
saying why. Hidden files and names of files still being written (``*.part``, ``*.tmp``,
``*.crdownload``, ``~$*``) are left alone.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask_babel import force_locale

from portal.actor import Actor
from portal.errors import PortalError
from portal.extensions import db
from portal.intake import services
from portal.intake.models import SOURCE_WATCH

log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".swp")
TAKING, DONE, FAILED = ".taking", "done", "failed"


@dataclass
class Outcome:
    name: str
    item_id: int | None = None
    error: str = ""
    moved_to: str = ""


@dataclass
class Watcher:
    folder: Path
    user_id: int
    archive: str | None = None
    doc_type: str = ""
    settle: int = 2
    min_age: float = 1.0
    seen: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # name → (size, mtime_ns, stable scans)

    def __post_init__(self):
        self.folder = Path(self.folder)
        for sub in (TAKING, DONE, FAILED):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def candidates(self) -> list[Path]:
        """Files that have stopped changing (updates the bookkeeping of the others)."""
        ready, now, present = [], time.time(), set()
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            name = entry.name
            if not entry.is_file(follow_symlinks=False) or name.startswith((".", "~$")) \
                    or name.lower().endswith(SKIP_SUFFIXES):
                continue
            present.add(name)
            stat = entry.stat(follow_symlinks=False)
            size, mtime = stat.st_size, stat.st_mtime_ns
            before = self.seen.get(name)
            stable = before[2] + 1 if before and before[:2] == (size, mtime) else 0
            self.seen[name] = (size, mtime, stable)
            if stable >= self.settle and size > 0 and now - mtime / 1e9 >= self.min_age:
                ready.append(Path(entry.path))
            elif stable >= self.settle and size == 0 and now - mtime / 1e9 >= 60:
                ready.append(Path(entry.path))  # an empty file that stays empty: refused with a reason
        for gone in set(self.seen) - present:
            del self.seen[gone]
        return ready

    def scan_once(self) -> list[Outcome]:
        outcomes = []
        for path in self.candidates():
            outcome = self.take(path)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def take(self, path: Path) -> Outcome | None:
        claimed = self.folder / TAKING / path.name
        try:
            os.rename(path, claimed)  # atomic: another watcher that got there first wins
        except FileNotFoundError:
            return None
        self.seen.pop(path.name, None)
        from portal.auth.models import User

        user = db.session.get(User, self.user_id)
        actor = Actor(user=user, client_addr=f"watch:{self.folder}"[:64], via="watch")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            with open(claimed, "rb") as fileobj:
                item = services.receive(actor, fileobj, path.name, archive=self.archive, doc_type=self.doc_type,
                                        source=SOURCE_WATCH)
        except PortalError as exc:
            db.session.rollback()
            with force_locale("zh_CN"):
                reason = str(exc.message)
            target = self._move(claimed, FAILED, stamp)
            Path(f"{target}.reason.txt").write_text(reason + "\n", encoding="utf-8")
            log.warning("watched folder: %s refused: %s", path.name, reason)
            return Outcome(path.name, error=reason, moved_to=str(target))
        except Exception:
            db.session.rollback()
            os.rename(claimed, path)  # not taken: tried again on the next scan
            raise
        target = self._move(claimed, DONE, stamp)
        return Outcome(path.name, item_id=item.id, moved_to=str(target))

    def _move(self, claimed: Path, where: str, stamp: str) -> Path:
        target = self.folder / where / f"{stamp}-{claimed.name}"
        counter = 2
        while target.exists():
            target = self.folder / where / f"{stamp}-{counter}-{claimed.name}"
            counter += 1
        os.rename(claimed, target)
        return target

    def recover(self) -> int:
        """Files left in ``.taking/`` by a watcher that stopped mid-way go back to be taken again
        (``receive`` refuses a second copy of a file it already holds, so nothing is doubled)."""
        count = 0
        for entry in os.scandir(self.folder / TAKING):
            if entry.is_file():
                os.rename(entry.path, self.folder / entry.name)
                count += 1
        return count

    def run(self, interval: float = 2.0, stop=None, on_outcome=None) -> None:
        self.recover()
        while stop is None or not stop.is_set():
            try:
                for outcome in self.scan_once():
                    if on_outcome:
                        on_outcome(outcome)
            except Exception:  # noqa: BLE001 - keep watching; the file is retried
                log.exception("watched folder %s: scan failed", self.folder)
            finally:
                db.session.remove()
            if stop is not None:
                stop.wait(interval)
            else:
                time.sleep(interval)
