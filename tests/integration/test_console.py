"""`studybot chat` driven through a pseudo-terminal: the real program, typed at like a person would."""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import sys
from pathlib import Path

import pexpect
import pytest
from rich.console import Console

from bot.console import run_chat
from bot.domain.learners import LearnerService
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROMPT, ANSWER = "you> ", "answer a-d> "
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_QUESTION = re.compile(r"Question (\d+) of (\d+) · [^\n]*\n(.*?)\n\s+A\) ", re.S)


class Chat:
    """One `studybot chat` process; ``send`` types a line and returns the screen text up to the next prompt."""

    def __init__(self, data_dir: Path, name: str = "Ada") -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYBOT_")}
        env |= {
            "STUDYBOT_DATA_DIR": str(data_dir),
            "STUDYBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
            "HF_HUB_OFFLINE": "1",
        }
        # cwd is the data dir so a developer's .env in the project folder can't leak into the test.
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "bot", "chat", "--name", name],
            env=env,
            cwd=str(data_dir),
            encoding="utf-8",
            dimensions=(50, 200),
            timeout=30,
        )
        self.prompt = ""
        self.greeting = self._until_prompt()

    def _until_prompt(self, timeout: float = 30) -> str:
        self.child.expect_exact([PROMPT, ANSWER], timeout=timeout)
        self.prompt = self.child.after
        return _ANSI.sub("", self.child.before).replace("\r\n", "\n")

    def send(self, line: str, timeout: float = 30) -> str:
        self.child.sendline(line)
        return self._until_prompt(timeout)

    def end(self, how: str = "/quit") -> str:
        """Leave with /quit, Ctrl-D ("eof") or Ctrl-C ("intr"); returns the last screen text."""
        if how == "eof":
            self.child.sendeof()
        elif how == "intr":
            self.child.sendintr()
        else:
            self.child.sendline(how)
        self.child.expect(pexpect.EOF, timeout=30)
        self.child.close()
        return _ANSI.sub("", self.child.before).replace("\r\n", "\n")


def question_on(screen: str) -> tuple[int, int, str]:
    """(number, total, prompt) of the last question shown on the screen."""
    found = _QUESTION.findall(screen)
    assert found, screen
    number, total, prompt = found[-1]
    return int(number), int(total), " ".join(prompt.split())


def right_letter(prompt: str, kb) -> str:
    matches = [i for i in kb.quiz.values() if " ".join(i.prompt.split()) == prompt]
    assert len(matches) == 1, prompt
    return "abcd"[matches[0].answer]


@pytest.fixture
def chat(tmp_path):
    chats: list[Chat] = []

    def start(name: str = "Ada") -> Chat:
        chats.append(Chat(tmp_path, name))
        return chats[-1]

    yield start
    for c in chats:
        c.child.close(force=True)


def test_help_lists_the_commands(chat):
    """/help lists every command, and the greeting points to it."""
    c = chat()
    assert "/help" in c.greeting
    screen = c.send("/help")
    for command in ("/quiz", "/streak", "/progress", "/leaderboard", "/settings", "/stop", "/help", "/quit"):
        assert command in screen
    assert "Skills for /quiz: python, math, soft-skills" in screen
    assert "Goodbye" in c.end("/quit")
    assert c.child.exitstatus == 0


def test_full_quiz_ends_with_summary_streak_and_leaderboard(chat, shipped_kb):
    """A whole /quiz 3 answered right ends in a summary with streak 1; /streak and /leaderboard agree."""
    c = chat("Ada")
    screen = c.send("/quiz 3 math")
    assert "Loading my notes" not in screen  # the quiz never loads the model
    for number in (1, 2, 3):
        shown, total, prompt = question_on(screen)
        assert (shown, total) == (number, 3)
        assert c.prompt == ANSWER
        letter = right_letter(prompt, shipped_kb)
        screen = c.send(letter.upper() if number == 2 else letter)  # letters are read in any case
        assert "Correct!" in screen
    assert "Quiz complete: 3 of 3 correct" in screen
    assert "Streak: 1 day" in screen
    assert c.prompt == PROMPT

    assert "Streak: 1 day" in c.send("/streak")
    board = c.send("/leaderboard week")
    assert re.search(r"│\s+1 │ Ada\s+│\s+[1-9]\d* │\s+1 │", board), board
    assert "Traceback" not in c.end("eof")
    assert c.child.exitstatus == 0


def test_out_of_range_answer_reprompts_the_same_question(chat):
    """'e', '7' and an empty line during a quiz re-ask the same question instead of answering it."""
    c = chat()
    first = question_on(c.send("/quiz 2"))
    for bad in ("e", "7", ""):
        screen = c.send(bad)
        assert "Type a, b, c or d" in screen
        assert c.prompt == ANSWER
    screen = c.send("b")
    assert question_on(screen)[0] == 2  # the next question, so b answered question 1
    assert question_on(screen)[2] != first[2]
    c.end("intr")
    assert c.child.exitstatus == 0


def test_leaving_mid_quiz_keeps_it_resumable(chat):
    """/quit in the middle of a quiz exits cleanly, and /quiz in a new process resumes at the next question."""
    c = chat()
    c.send("/quiz 3")
    after_first = c.send("a")
    number, _, prompt = question_on(after_first)
    assert number == 2
    farewell = c.end("/quit")
    assert "Your quiz is saved" in farewell and "Goodbye" in farewell
    assert c.child.exitstatus == 0

    again = chat()
    screen = again.send("/quiz 5")  # a resumed quiz keeps its own length
    assert "Picking up today's quiz where you left off: question 2 of 3" in screen
    resumed_at, _, resumed_prompt = question_on(screen)
    assert (resumed_at, resumed_prompt) == (2, prompt)
    screen = again.send("/stop")
    assert "Quiz paused at question 2 of 3" in screen
    assert again.prompt == PROMPT
    assert "Traceback" not in again.end("eof")


def test_settings_and_bad_input_get_friendly_messages(chat):
    """Timezone changes work; a bad zone, an unknown command, an empty line and '??' get messages, not crashes."""
    c = chat()
    assert "Timezone set to Europe/Berlin" in c.send("/settings timezone Europe/Berlin")
    assert '"Mars/Olympus" is not a timezone I know' in c.send("/settings timezone Mars/Olympus")
    assert "Did you mean Europe/Paris?" in c.send("/settings timezone paris")
    assert "starts at 04:00" in c.send("/settings day-start 4")
    assert "between 0 and 23" in c.send("/settings day-start 24")
    screen = c.send("/settings")
    assert "Europe/Berlin" in screen and "04:00" in screen
    assert "Did you mean /quiz?" in c.send("/quizz")
    assert "Type a question" in c.send("")
    screen = c.send("??")
    assert "couldn't find a question" in screen
    assert "Loading my notes" not in screen  # refused before the model loads
    assert "Streak: 0 days" in c.send("/streak")  # still serving after all of that
    screen = c.end("/quit")
    assert "Traceback" not in screen


def test_progress_writes_a_png_chart(chat, tmp_path):
    """/progress prints a table per skill and writes a real PNG under the data dir's charts folder."""
    c = chat()
    c.send("/quiz 1")
    c.send("a")
    screen = c.send("/progress")
    chart = tmp_path / "charts" / "progress-1.png"
    assert f"Chart saved to {chart.resolve()}" in screen
    assert "Math foundations" in screen and "Python" in screen
    assert chart.read_bytes().startswith(PNG_SIGNATURE)
    c.end("eof")


def test_unexpected_error_prints_an_id_and_the_session_continues(tmp_path, monkeypatch):
    """A bug shows a short error id (its traceback goes to the log file under that id) and the chat goes on."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    async def broken(self, user_id):
        raise RuntimeError("streak store exploded")

    monkeypatch.setattr(LearnerService, "streak", broken)
    lines = iter(["/streak", "/settings"])

    def read(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    screen = io.StringIO()
    settings = Settings(_env_file=None, data_dir=tmp_path, knowledge_dir=ROOT / "knowledge")  # type: ignore[call-arg]
    try:
        code = run_chat(settings, name="Ada", read=read, out=Console(file=screen, width=200))
    finally:
        root.handlers[:], root.level = saved
        logging.captureWarnings(False)
    text = screen.getvalue()
    found = re.search(r"something went wrong on my side \(error ([0-9a-f]{8});", text)
    assert found, text
    assert code == 0
    assert "Traceback" not in text
    assert "Timezone" in text and "Goodbye" in text  # /settings still answered afterwards
    log = (tmp_path / "logs" / "chat.log").read_text()
    assert found.group(1) in log and "RuntimeError: streak store exploded" in log


@pytest.mark.model
def test_plain_text_question_prints_an_answer_with_sources(chat, tmp_path, shipped_service):
    """A question loads the answer service once, with a note, and prints the answer and its sources."""
    shutil.copytree(shipped_service.settings.index_dir, tmp_path / "index")
    c = chat()
    screen = c.send("What is overfitting?", timeout=120)
    assert "Loading my notes" in screen
    assert "Answer · confidence" in screen
    assert "Sources" in screen and "knowledge/concepts/overfitting.md" in screen
    screen = c.send("how do I choose a learning rate?")
    assert "Loading my notes" not in screen and "Sources" in screen
    c.end("eof")


@pytest.mark.model
def test_decline_suggests_what_the_console_can_do(chat, tmp_path, shipped_service):
    """A question outside the notes names related topics and a /quiz on the nearest skill, not Discord's moderators."""
    shutil.copytree(shipped_service.settings.index_dir, tmp_path / "index")
    c = chat()
    screen = c.send("how do I care for my ball python?", timeout=120)
    assert "Not in my notes yet" in screen
    assert "Related topics you can ask about:" in screen
    assert "Or practise the nearest skill: /quiz python" in screen, screen
    assert "moderator" not in screen
    c.end("eof")
