"""The embedded database is watched (issue 11, repro 8): a deleted or replaced SQLite file stops writes loudly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.app import open_services
from bot.storage.repos import StorageUnavailable
from tests.state import settings_for

ADA = 1001


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_vanished_database_refuses_answers_instead_of_losing_them(tmp_path, clock, shipped_kb, how):
    """Repro 8: after the file is deleted (or swapped), the next answer fails with "can't reach my database"."""
    db = tmp_path / "studybot.db"
    services = await open_services(settings_for(f"sqlite+aiosqlite:///{db}", tmp_path), clock, kb=shipped_kb)
    try:
        view = await services.quiz.start_daily(ADA, name="Ada")
        first = await services.quiz.submit(view.id, 0, 0, ADA)
        assert first.question.position == 0 and not first.repeated
        if how == "deleted":
            _remove_database(db)
        else:
            shutil.copy(db, tmp_path / "copy.db")
            os.replace(tmp_path / "copy.db", db)
        with pytest.raises(StorageUnavailable, match="can't reach my database"):
            await services.quiz.submit(view.id, 1, 0, ADA)
        with pytest.raises(StorageUnavailable):  # and it stays refused: nothing is acknowledged into the void
            await services.quiz.submit(view.id, 2, 0, ADA)
    finally:
        await services.close()


async def test_database_kept_in_place_keeps_working(tmp_path, clock, shipped_kb):
    """The identity check does not refuse a database that is still the same file (WAL checkpoints and all)."""
    db = tmp_path / "studybot.db"
    services = await open_services(settings_for(f"sqlite+aiosqlite:///{db}", tmp_path), clock, kb=shipped_kb)
    try:
        view = await services.quiz.start_daily(ADA, name="Ada")
        for position in range(view.total):
            await services.quiz.submit(view.id, position, 0, ADA)
        assert (await services.quiz.view(view.id, ADA)).finished
    finally:
        await services.close()
