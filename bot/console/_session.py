"""The chat loop: read a line, call one domain service, render the result; errors become messages.

Lines are read with ``input()`` on the main thread, and the async services run on one ``asyncio.Runner``
loop kept for the whole session. Reading in a worker thread (``asyncio.to_thread(input)``) would break
Ctrl-C: the thread stays blocked in ``input()`` and closing the loop waits for it until the user presses Enter.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import secrets
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, assert_never

from rich.console import Console
from rich.text import Text

from bot.app import Services, open_services, shipped_answers
from bot.charts import progress_png
from bot.console import render
from bot.console._parsing import (
    HELP,
    SKILLS,
    Ask,
    Command,
    NewConversation,
    Quit,
    SetDayStart,
    SetGenerate,
    SetHidden,
    SetTimezone,
    ShowHelp,
    ShowLeaderboard,
    ShowProgress,
    ShowSettings,
    ShowStreak,
    StartQuiz,
    StopQuiz,
    UsageError,
    parse_choice,
    parse_line,
)
from bot.domain.content import Skill
from bot.domain.conversation import ChatMemory
from bot.domain.errors import StudyBotError
from bot.domain.ports import LOCAL_GUILD
from bot.domain.quiz import Question
from bot.inputs import repair
from bot.settings import Settings
from bot.startup import storage_path_problem

if TYPE_CHECKING:
    from bot.domain.answering import AnswerService

log = logging.getLogger(__name__)
T = TypeVar("T")
Read = Callable[[str], str]

LOCAL_USER = 1  # the console has one learner; Discord ids are 17+ digits, so they never collide
PROMPT = "you> "
CONSOLE_CHAT = "console"
ANSWER_PROMPT = "answer a-d> "
QUIZ_HELP = "Type a, b, c or d to answer. /stop pauses the quiz (/quiz picks it up again); /quit leaves StudyBot."


class _EndSession(Exception):
    """Leave the chat from wherever the user is: /quit, Ctrl-D or Ctrl-C, at the prompt or inside a quiz."""


class ChatSession:
    """One learner's terminal session over the same services the Discord bot uses."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        runner: asyncio.Runner,
        out: Console,
        *,
        name: str,
        log_path: Path,
        read: Read = input,
    ) -> None:
        self.settings = settings
        self.services = services
        self.runner = runner
        self.out = out
        self.name = name
        self.log_path = log_path
        self.read = read
        self.user_id = LOCAL_USER
        self._answers: AnswerService | None = None
        self._chat = ChatMemory(max_conversations=1)  # consecutive questions form one conversation; /new resets
        self._writer: Any = None  # the checked generator while /generate is on

    def run(self) -> None:
        """Serve commands until the user leaves; nothing but leaving ends the loop."""
        self._call(self.services.learners.learner(self.user_id, self.name))  # the name follows the login
        self.out.print(Text(f"StudyBot · hello, {self.name}!", style="bold"))
        self.out.print("Ask a question, or type /help for the commands. /quit leaves.")
        while True:
            try:
                self._step()
            except _EndSession:
                break
        self.out.print("Goodbye! See you tomorrow for your streak.")

    def _step(self) -> None:
        line = self._read(PROMPT)
        try:
            self._handle(parse_line(line))
        except _EndSession:
            raise
        except KeyboardInterrupt:  # Ctrl-C while a service works: leave, as at the prompt
            self.out.print()
            raise _EndSession from None
        except StudyBotError as exc:
            self._warn(exc.message)
        except Exception:
            self._unexpected()

    def _handle(self, command: Command) -> None:
        learners = self.services.learners
        match command:
            case Ask(text):
                self._ask(text)
            case StartQuiz(count, skill):
                self._quiz(count, skill)
            case ShowStreak():
                learner = self._call(learners.learner(self.user_id))
                self.out.print(render.streak(self._call(learners.streak(self.user_id)), learner.timezone))
            case ShowProgress():
                self._progress()
            case ShowLeaderboard(period):
                board = self._call(learners.leaderboard(LOCAL_GUILD, period, viewer=self.user_id))
                self.out.print(render.leaderboard(board, self.user_id))
                if self._call(learners.learner(self.user_id)).leaderboard_hidden:
                    self.out.print("You are hidden from it: /settings leaderboard show brings you back.")
            case ShowSettings():
                self.out.print(render.settings(self._call(learners.learner(self.user_id))))
            case SetTimezone(name):
                learner = self._call(learners.set_timezone(self.user_id, name))
                self._done(f"Timezone set to {learner.timezone}; your day starts at {learner.day_start_hour:02d}:00.")
            case SetDayStart(hour):
                current = self._call(learners.learner(self.user_id))
                learner = self._call(learners.set_timezone(self.user_id, current.timezone, hour))
                self._done(f"Your day now starts at {learner.day_start_hour:02d}:00 ({learner.timezone}).")
            case SetHidden(hidden):
                self._call(learners.set_hidden(self.user_id, hidden))
                self._done("You are hidden from the leaderboard." if hidden else "You are on the leaderboard.")
            case ShowHelp():
                self.out.print(render.help_table(HELP))
                self.out.print(f"Skills for /quiz: {SKILLS} (e.g. /quiz 3 {Skill.MATH.value}).")
            case SetGenerate(on):
                self._set_generate(on)
            case NewConversation():
                self._chat.forget(CONSOLE_CHAT)
                self._done("New conversation: your next question starts fresh.")
            case Quit():
                raise _EndSession
            case _:
                assert_never(command)

    # ------------------------------------------------------------------------------------------------------

    def _ask(self, text: str) -> None:
        from bot.domain.answering import check_question

        check_question(text)  # "??" is refused before the model loads for it
        history = self._chat.history(CONSOLE_CHAT)
        answer = self._answer_service().ask(text, history=history)
        if not answer.abstained:
            self._chat.remember(CONSOLE_CHAT, answer.question, answer.standalone_question, answer.doc_ids)
        if self._writer is None:
            render.print_answer(self.out, answer, self._skill_of)
            return
        from bot.console.generation import describe

        result = self._writer.generate(answer, history)
        render.print_answer(self.out, result.answer, self._skill_of)
        self.out.print(Text(describe(result), style="dim"))

    def _set_generate(self, on: bool) -> None:
        """/generate on builds the checked generator (or says why it can't); off returns to extractive answers."""
        from bot.llm import BlockingGenerator, LLMConfigError, build_generator

        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not on:
            self._done("Generated answers are off: answers are extracts from my notes.")
            return
        try:
            self._writer = BlockingGenerator(build_generator(self.settings, self._answer_service()), self.runner)
        except LLMConfigError as exc:
            self._warn(f"{exc} Answers stay extractive.")
            return
        self._done("Generated answers are on: every sentence is checked against the sources before you see it.")

    def _skill_of(self, title: str) -> str | None:
        """The skill of the entry with this title: a decline suggests a quiz on it."""
        for entry in self.services.kb.entries.values():
            if entry.title == title:
                return entry.skill.value
        return None

    def _answer_service(self) -> AnswerService:
        """Load the index and query model on the first question only: quizzes and streaks never need them."""
        if self._answers is None:
            self.out.print(Text("Loading my notes… (only the first question waits)", style="dim"))
            self._answers = shipped_answers(self.settings, lambda msg: self.out.print(Text(msg, style="dim")))
        return self._answers

    def _quiz(self, count: int, skill: Skill | None) -> None:
        view = self._call(self.services.quiz.start_daily(self.user_id, name=self.name, count=count, skill=skill))
        question = view.next
        if question is None:
            self._warn("Nothing is left to answer in this quiz. Try /quiz again.")
            return
        if view.resumed:
            self.out.print(
                f"Picking up today's quiz where you left off: question {question.number} of {question.total}."
            )
        try:
            while question is not None:
                started = time.monotonic()
                choice = self._choose(question)
                if choice is None:
                    self.out.print(
                        f"Quiz paused at question {question.number} of {question.total}. /quiz picks it up again."
                    )
                    return
                elapsed = timedelta(seconds=time.monotonic() - started)  # FSRS rates a quick answer as easier
                fb = self._call(self.services.quiz.submit(view.id, question.position, choice, self.user_id, elapsed))
                self.out.print(render.feedback(fb))
                if fb.summary is not None:
                    self.out.print(render.summary(fb.summary))
                    return
                question = fb.next
        except (_EndSession, KeyboardInterrupt):
            self.out.print("Your quiz is saved: /quiz picks it up where you left off.")
            raise _EndSession from None

    def _choose(self, question: Question) -> int | None:
        """The option picked, or None to pause; re-asks until the line is a letter or a way out."""
        self.out.print(render.question(question))
        while True:
            try:
                picked = parse_choice(self._read(ANSWER_PROMPT))
            except UsageError as exc:
                self._warn(exc.message)
                continue
            match picked:
                case int():
                    return picked
                case StopQuiz():
                    return None
                case Quit():
                    raise _EndSession
                case ShowHelp():
                    self.out.print(QUIZ_HELP)

    def _progress(self) -> None:
        progress = self._call(self.services.learners.progress(self.user_id))
        path = (self.settings.data_dir / "charts" / f"progress-{self.user_id}.png").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".png.tmp")
        partial.write_bytes(progress_png(progress))
        os.replace(partial, path)  # an image viewer never sees half a file
        self.out.print(render.progress(progress, path))

    # ------------------------------------------------------------------------------------------------------

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(work)

    def _read(self, prompt: str) -> str:
        try:
            return repair(self.read(prompt))  # a terminal in another encoding hands over surrogate-escaped bytes
        except (EOFError, KeyboardInterrupt):
            self.out.print()  # the cursor is still on the prompt line
            raise _EndSession from None

    def _warn(self, message: str) -> None:
        self.out.print(Text(message, style="yellow"))

    def _done(self, message: str) -> None:
        self.out.print(Text(message, style="green"))

    def _unexpected(self) -> None:
        error_id = secrets.token_hex(4)
        log.exception("chat: unexpected error %s", error_id)
        self.out.print(
            Text(
                f"Sorry, something went wrong on my side (error {error_id}; details in {self.log_path}). "
                "You can carry on.",
                style="red",
            )
        )


def log_to_file(settings: Settings) -> Path:
    """Send logs and warnings to DATA_DIR/logs/chat.log: on screen they would interrupt the conversation."""
    from bot.logs import setup_logging

    path = (settings.data_dir / "logs" / "chat.log").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    setup_logging(settings.log_level)
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(root.level)  # bm25s turns its own logger up to DEBUG on import
    for screen in root.handlers:  # keep the shared format and the secret redaction
        handler.setFormatter(screen.formatter)
        for log_filter in screen.filters:
            handler.addFilter(log_filter)
    root.handlers[:] = [handler]
    logging.captureWarnings(True)
    return path


def login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # containers often run as a uid with no passwd entry
        return "learner"


def run_chat(settings: Settings, *, name: str | None = None, read: Read = input, out: Console | None = None) -> int:
    """Run a session until /quit, Ctrl-D or Ctrl-C, and return the process exit code."""
    out = out or Console(highlight=False)  # no auto-colouring of numbers inside answers and quiz options
    try:
        log_path = log_to_file(settings)
    except OSError as exc:
        out.print(Text(storage_path_problem(exc) or f"StudyBot can't write to {settings.data_dir}.", style="red"))
        return 2
    if read is input:
        with contextlib.suppress(ImportError):  # Windows has no readline
            import readline  # noqa: F401  (input() gains line editing and history)
    try:
        with asyncio.Runner() as runner:
            try:
                services = runner.run(open_services(settings))
            except StudyBotError as exc:
                out.print(Text(exc.message, style="red"))
                return 2
            try:
                ChatSession(
                    settings, services, runner, out, name=name or login_name(), log_path=log_path, read=read
                ).run()
            finally:
                runner.run(services.close())
    except KeyboardInterrupt:  # Ctrl-C while starting or closing
        out.print("\nGoodbye!")
    except Exception as exc:
        error_id = secrets.token_hex(4)
        log.exception("chat: could not run, error %s", error_id)
        problem = storage_path_problem(exc) or "StudyBot could not start"
        out.print(Text(f"{problem.rstrip('.')} (error {error_id}; details in {log_path}).", style="red"))
        return 1
    return 0
