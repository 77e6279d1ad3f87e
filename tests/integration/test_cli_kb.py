"""`studybot kb import` and `kb export`, run as real subprocesses against SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import CONCEPT, write_resources
from tests.state import SHIPPED_KNOWLEDGE

ROOT = Path(__file__).resolve().parents[2]
GUILD = 500


def run(
    args: list[str], db_url: str, data_dir: Path, knowledge: Path = SHIPPED_KNOWLEDGE
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STUDYBOT_DATA_DIR": str(data_dir),
        "STUDYBOT_KNOWLEDGE_DIR": str(knowledge),
        "STUDYBOT_DATABASE_URL": db_url,
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def seed_folder(root: Path) -> Path:
    (root / "concepts").mkdir(parents=True)
    (root / "concepts" / "attention.md").write_text(
        CONCEPT.format(slug="attention", title="Attention", body="Attention weighs the inputs by relevance.")
    )
    write_resources(root)
    return root


def test_import_a_folder_then_export_files_that_validate(db_url: str, tmp_path: Path) -> None:
    """A folder imports (entries and resources), exports to --out, and the export passes `kb validate`."""
    folder = seed_folder(tmp_path / "upload")
    imported = run(["kb", "import", "--guild", str(GUILD), str(folder), "--reason", "seed"], db_url, tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "Imported 2 file(s) into server 500: 2 added, 0 updated, 0 unchanged" in imported.stdout
    out = tmp_path / "export"
    exported = run(["kb", "export", "--guild", str(GUILD), "--out", str(out)], db_url, tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "concepts/attention.md",
        f"resources/server-{GUILD}.yaml",
    ]
    assert f"wrote {out / 'concepts' / 'attention.md'}" in exported.stdout
    validated = run(["kb", "validate"], db_url, tmp_path, knowledge=out)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "all valid" in validated.stdout
    again = run(["kb", "import", "--guild", str(GUILD), str(out)], db_url, tmp_path)
    assert "0 added, 0 updated, 2 unchanged" in again.stdout, again.stderr


def test_import_with_a_bad_file_prints_file_line_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    """One invalid file: every problem printed as file:line: reason, exit code 1, and nothing imported."""
    folder = seed_folder(tmp_path / "upload")
    bad = folder / "concepts" / "broken.md"
    bad.write_text(CONCEPT.format(slug="broken", title="Broken", body="Text.").replace("machine-learning", "cooking"))
    proc = run(["kb", "import", "--guild", str(GUILD), str(folder)], db_url, tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("concepts/broken.md:4: skill: Input should be")
    assert "Nothing was imported: 1 problem(s)." in proc.stderr
    exported = run(["kb", "export", "--guild", str(GUILD), "--out", str(tmp_path / "export")], db_url, tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "nothing written" in exported.stdout
    assert not (tmp_path / "export").exists()


def test_import_of_a_missing_path_and_help_text(db_url: str, tmp_path: Path) -> None:
    """A path that does not exist is a clear error; --help explains formats, all-or-nothing and file:line output."""
    missing = run(["kb", "import", "--guild", "1", str(tmp_path / "nope")], db_url, tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    helped = run(["kb", "import", "--help"], db_url, tmp_path)
    assert helped.returncode == 0
    text = " ".join(helped.stdout.split())
    assert "All or nothing" in text and "file:line: reason" in text and "1 MB" in text
