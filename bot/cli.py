"""The ``studybot`` command line: everything StudyBot does, with no Discord needed.

Heavy imports (NumPy, FAISS, the model) happen inside commands so ``--help`` is instant and
``studybot ask`` starts answering quickly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from bot.domain.answering import Answer
    from bot.retrieval.shipped import IndexService
    from bot.settings import Settings

# Plain click help (rich_markup_mode=None): typer's rich help shows flags as if they took a value (`--json <bool>`).
PLAIN_HELP: Any = None
app = typer.Typer(
    help="StudyBot: a study assistant for aspiring ML engineers. Ask questions, practise, track streaks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=PLAIN_HELP,
)
index_app = typer.Typer(help="Build and inspect the search index.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP)
kb_app = typer.Typer(help="Check and manage the knowledge base.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP)
app.add_typer(index_app, name="index")
app.add_typer(kb_app, name="kb")
db_app = typer.Typer(
    help="Create and upgrade the database (SQLite by default, PostgreSQL if configured).", rich_markup_mode=PLAIN_HELP
)
app.add_typer(db_app, name="db")
llm_app = typer.Typer(help="Optional generated answers: check the model endpoint.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")

log = logging.getLogger(__name__)
# Piped output is never hard-wrapped (rich would cut it at 80 columns, mid-sentence and mid-URL).
out = Console(soft_wrap=not sys.stdout.isatty())
err = Console(stderr=True, soft_wrap=True)  # never wrap messages: tools and tests grep them
INTERRUPTED = 130  # the shell's code for "stopped by Ctrl-C"; `make run` treats it as a clean exit


@contextlib.contextmanager
def _stoppable() -> Iterator[None]:
    """Ctrl-C ends the command with one line and exit code 130, not a traceback or click's "Aborted!"."""
    try:
        yield
    except KeyboardInterrupt:
        err.print("\nStopped.", highlight=False)
        raise typer.Exit(INTERRUPTED) from None


def _settings() -> Settings:
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for e in exc.errors():
            name = "STUDYBOT_" + "__".join(str(p) for p in e["loc"]).upper()
            err.print(f"[red]Configuration error:[/] {name}: {e['msg']}")
        raise typer.Exit(2) from None


def _setup_logging(settings: Settings) -> None:
    from bot.logs import register_settings, setup_logging

    register_settings(settings)
    setup_logging(settings.log_level, quiet=True)


def _service(settings: Settings) -> IndexService:
    from bot.retrieval.shipped import IndexService

    return IndexService(settings)


def _progress_bar() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,  # the one-line summary replaces the bars
        disable=not err.is_terminal,  # piped: only the summary line (no stray blank line)
    )


def _knowledge_failure(exc: Exception) -> typer.Exit:
    from bot.domain.errors import KnowledgeError

    if isinstance(exc, KnowledgeError):
        err.print(f"[red]{exc.message}[/]")
        for problem in exc.problems[:50]:
            typer.echo(f"  {problem}", err=True)
    return typer.Exit(2)


def _storage_failure(exc: OSError) -> typer.Exit:
    from bot.startup import explain

    err.print(explain(exc), markup=False, highlight=False)
    return typer.Exit(1)


@index_app.command("build")
def index_build(
    force: Annotated[bool, typer.Option("--force", help="Re-embed everything instead of only what changed.")] = False,
) -> None:
    """Embed the knowledge base into the on-disk index (only changed chunks are re-embedded)."""
    from bot.domain.errors import KnowledgeError

    settings = _settings()
    _setup_logging(settings)
    service = _service(settings)
    if not force:
        status = service.status()
        if status.built and not status.stale:
            out.print(index_up_to_date(status.chunks, status.build_id or "-"), highlight=False)
            return
    tasks: dict[str, Any] = {}
    with _stoppable(), _progress_bar() as bar:
        loading = bar.add_task("Index: loading the model", total=None)  # importing torch takes a while

        def progress(stage: str, done: int, total: int) -> None:
            if loading in bar.task_ids:
                bar.remove_task(loading)
            if stage == "done":
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"Index: embedding {stage}", total=total)
            bar.update(tasks[stage], completed=done)

        try:
            report = service.build(force=force, progress=progress)
        except KnowledgeError as exc:
            raise _knowledge_failure(exc) from None
    out.print(index_built(report), highlight=False)


def index_up_to_date(chunks: int, build_id: str) -> str:
    return f"Index up to date: {chunks} chunks, nothing to embed (build {build_id})."


def index_built(report: Any) -> str:
    """One line that counts exactly what the progress bars counted."""
    if report.embedded == 0 and report.sentences_embedded == 0:
        return index_up_to_date(report.chunks, report.build_id)
    return (
        f"Index built: {report.chunks} chunks ({report.embedded} embedded, {report.reused} reused), "
        f"{report.sentences_embedded} sentences embedded, in {report.seconds:.1f} s (build {report.build_id})."
    )


@index_app.command("status")
def index_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as one JSON object.")] = False,
) -> None:
    """Show the live index: chunk count, model, last build, and whether it is stale."""
    from rich.table import Table

    settings = _settings()
    status = _service(settings).status()
    if as_json:
        out.print_json(json.dumps(status.__dict__))
        return
    table = Table(show_header=False, box=None)
    table.add_row("Index", str(settings.index_dir))
    table.add_row("Built", "yes" if status.built else "[red]no[/] (run `studybot index build`)")
    table.add_row("Chunks", str(status.chunks))
    table.add_row("Model", status.model_id or "-")
    table.add_row("Dense index", status.dense_index or "-")
    table.add_row("Last build", status.built_at or "-")
    table.add_row("Stale", "[yellow]yes[/]" if status.stale else "no")
    out.print(table)


def _print_answer(answer: Answer, settings: Settings) -> None:
    from bot.console.render import print_answer  # shared with `studybot chat`

    def skill_of(title: str) -> str | None:
        from bot.domain.content import load_knowledge  # only a decline needs it

        entries = load_knowledge(settings.knowledge_dir).entries.values()
        return next((e.skill.value for e in entries if e.title == title), None)

    print_answer(out, answer, skill_of, quiz="studybot chat, then /quiz {skill}", fallback="studybot chat and /help")


@app.command()
def ask(
    question: Annotated[
        str | None, typer.Argument(help="Your question. With --json and no question, read one per line from stdin.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per question.")] = False,
    generate: Annotated[
        bool,
        typer.Option("--generate", help="Have the configured model rewrite the answer; each sentence is checked."),
    ] = False,
) -> None:
    """Answer a question from the knowledge base, with its sources."""
    from bot.app import shipped_answers
    from bot.domain.conversation import ChatMemory, parse_chat_line
    from bot.domain.errors import InvalidQuestion, KnowledgeError
    from bot.inputs import json_line, lines, repair

    settings = _settings()
    _setup_logging(settings)
    if question is None and not as_json:
        err.print('Ask a question, e.g. [bold]studybot ask "What is overfitting?"[/] (or use --json to read stdin).')
        raise typer.Exit(2)
    try:
        with _stoppable():
            service = shipped_answers(settings, lambda msg: err.print(f"[dim]{msg}[/]"))
    except KnowledgeError as exc:
        raise _knowledge_failure(exc) from None
    except OSError as exc:  # e.g. the index cannot be written under STUDYBOT_DATA_DIR: one line, not a traceback
        raise _storage_failure(exc) from None

    chats = ChatMemory()
    writer = _generator(settings, service) if generate else None

    def answered(text: str, history: Any = ()) -> Any:
        """The extractive answer, or with --generate the checked generated one (a ``Generated``)."""
        answer = service.ask(text, history=history)
        return writer.generate(answer, history) if writer is not None else answer

    def answer_json(line: str) -> dict[str, Any]:
        """One line of input: a question, or a JSON object naming the conversation it belongs to."""
        text = line
        try:
            text, chat = parse_chat_line(line)
            result = answered(text, chats.history(chat) if chat else ())
        except InvalidQuestion as exc:
            return _declined(text, exc.message, generate)
        except Exception:  # one bad line must never end a batch: say so on its row, keep answering
            log.exception("answering %r failed", text[:200])
            return _declined(text, "Something went wrong answering this question; it has been logged.", generate)
        answer = result.answer if writer is not None else result
        if chat and not answer.abstained:
            chats.remember(chat, answer.question, answer.standalone_question, answer.doc_ids)
        return result.to_json()

    if question is not None:
        question = repair(question)  # argv arrives surrogate-escaped when it is not valid UTF-8
        if as_json:
            sys.stdout.buffer.write(json_line(answer_json(question)))
            return
        try:
            result = answered(question)
            _print_answer(result.answer if writer is not None else result, settings)
            if writer is not None:
                from bot.console.generation import describe

                err.print(describe(result), markup=False, highlight=False)
        except InvalidQuestion as exc:
            err.print(exc.message)
            raise typer.Exit(2) from None
        return
    for line in lines(sys.stdin.buffer):
        sys.stdout.buffer.write(json_line(answer_json(line)))
        sys.stdout.buffer.flush()


def _declined(question: str, message: str, generate: bool = False) -> dict[str, Any]:
    """The JSON row of a line that could not be answered: the same keys as an answer, and a message."""
    row = {
        "question": question,
        "abstained": True,
        "confidence": 0.0,
        "answer": message,
        "sources": [],
        "latency_ms": 0.0,
        "standalone_question": question,
        "kind": "invalid",
    }
    if generate:
        row |= {"mode": "extractive", "dropped_sentences": [], "fallback_reason": "invalid"}
    return row


def _generator(settings: Settings, service: Any) -> Any:
    """The checked generator for --generate; when it cannot work, say why on stderr and answer extractively."""
    from bot.llm import BlockingGenerator, LLMConfigError, Unavailable, build_generator

    try:
        return BlockingGenerator(build_generator(settings, service))
    except LLMConfigError as exc:
        err.print(f"[yellow]{exc}[/] Answering extractively.", highlight=False)
        return Unavailable("off" if "is off" in str(exc) else "config", str(exc))


@llm_app.command("check")
def llm_check() -> None:
    """Try the model endpoint: the model, time to first token and tokens per second, or what is wrong."""
    import asyncio

    from bot.domain.generation import GenerationFailed
    from bot.llm import LLMConfigError, OpenAIChat, llm_config

    settings = _settings()
    _setup_logging(settings)
    try:
        config = llm_config(settings)
    except LLMConfigError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from None
    if config is None:
        err.print("Generation is off: set STUDYBOT_LLM_BASE_URL (and STUDYBOT_LLM_MODEL) to turn it on.")
        raise typer.Exit(2)
    try:
        report = asyncio.run(OpenAIChat(config).check())
    except GenerationFailed as exc:
        err.print(f"[red]{exc.message}[/]", highlight=False)
        raise typer.Exit(1) from None
    except TimeoutError:
        err.print(f"[red]{config.shown_url} gave no complete reply within {config.timeout_s:g}s.[/]", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"Endpoint: {config.shown_url}", highlight=False)
    out.print(f"Model: {report.model}", highlight=False)
    out.print(f"Time to first token: {report.first_token_s * 1000:.0f} ms", highlight=False)
    out.print(f"Speed: {report.tokens_per_s:.1f} tokens/s ({report.tokens} streamed chunks)", highlight=False)
    out.print(f"Reply: {' '.join(report.text.split())[:200]}", highlight=False, markup=False)


@app.command()
def chat(
    name: Annotated[
        str | None, typer.Option("--name", help="The name shown on the leaderboard and chart (default: your login).")
    ] = None,
) -> None:
    """Talk to StudyBot in the terminal: questions, daily quizzes, streaks, progress, no Discord needed."""
    from bot.console import run_chat

    raise typer.Exit(run_chat(_settings(), name=name))


@kb_app.command("validate")
def kb_validate(
    strict: Annotated[
        bool, typer.Option("--strict", help="Make quiz-bank check findings errors (they already are when CI=true).")
    ] = False,
    details: Annotated[
        bool, typer.Option("--details", help="Also list each item whose key a test-taking shortcut finds.")
    ] = False,
    skip_duplicates: Annotated[
        bool, typer.Option("--skip-duplicates", help="Skip the near-duplicate check (it loads the embedding model).")
    ] = False,
) -> None:
    """Check every knowledge file; print each problem as file:line: what is wrong.

    Then check the quiz bank cannot be gamed: per file, how often the key is the longest option and how often
    it shares the most words with the prompt, and which prompts are near-duplicates. Those findings are
    warnings locally, errors with --strict or when CI=true.
    """
    from bot.domain.content import load_knowledge
    from bot.domain.quiz_checks import check_quiz, quiz_rows

    settings = _settings()
    kb = load_knowledge(settings.knowledge_dir)
    for problem in kb.problems:
        typer.echo(problem)  # plain lines: editors and CI parse file:line
    rows = quiz_rows(kb)
    embed = None
    if rows and not skip_duplicates:
        try:
            from index.embedder import NumpyMiniLM

            embed = NumpyMiniLM().encode
        except Exception as exc:  # a missing model must not hide the schema problems above
            typer.echo(f"warning: near-duplicate check skipped, the embedding model did not load: {exc}")
    report = check_quiz(rows, embed)
    as_errors = strict or settings.ci
    label = "error" if as_errors else "warning"
    for finding in report.findings:
        where, _, message = finding.partition(": ")
        typer.echo(f"{where}: {label}: {message}")
    if details:
        for _path, shares in sorted(report.per_file.items()):
            for row in shares.longest:
                typer.echo(f"{row.where}: note: {row.id}: the key is the longest option")
            for row in shares.overlap:
                typer.echo(f"{row.where}: note: {row.id}: the key shares the most words with the prompt")
    if rows:
        for line in report.summary():
            typer.echo(line)
    summary = f"{len(kb.entries)} entries, {len(kb.resources)} resources, {len(kb.quiz)} quiz items: " + (
        f"{len(kb.problems)} problem(s)." if kb.problems else "all valid."
    )
    if report.findings:
        summary += f" Quiz checks: {len(report.findings)} {label}(s)."
    failed = bool(kb.problems) or (as_errors and bool(report.findings))
    (err if failed else out).print(summary)
    if failed:
        raise typer.Exit(1)


def _with_services(settings: Settings, work: Any) -> Any:
    """Run ``work(services)`` on freshly opened services (knowledge base, migrated database), then close them."""
    import asyncio

    from bot.app import open_services
    from bot.domain.errors import KnowledgeError, StudyBotError

    async def go() -> Any:
        services = await open_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(go())
    except KnowledgeError as exc:
        raise _knowledge_failure(exc) from None
    except StudyBotError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None


@kb_app.command("export")
def kb_export(
    guild: Annotated[int, typer.Option("--guild", help="The Discord server (guild) id whose additions to export.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder to write into (default: ./kb-export-<guild>/).")
    ] = None,
) -> None:
    """Write a server's own entries, resources and quiz items as knowledge files.

    The files use the shipped layout and id scheme (concepts/*.md, resources/*.yaml, quiz/*.yaml), so they can be
    reviewed with `studybot kb validate`, contributed upstream, or imported into another server.
    """
    settings = _settings()
    _setup_logging(settings)
    target = out_dir or Path(f"kb-export-{guild}")
    files: dict[str, str] = _with_services(settings, lambda services: services.kb_admin.export(guild))
    if not files:
        out.print(f"Server {guild} has no entries, resources or quiz items of its own: nothing written.")
        return
    for relative, text in sorted(files.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.print(f"wrote {path}", highlight=False)
    out.print(f"Exported {len(files)} file(s) for server {guild} to {target}/.", highlight=False)


@kb_app.command("import")
def kb_import(
    guild: Annotated[int, typer.Option("--guild", help="The Discord server (guild) id to import into.")],
    path: Annotated[Path, typer.Argument(help="A .md or .yaml file, or a folder searched for them (recursively).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the server's audit log.")] = "",
) -> None:
    """Add or update a server's entries, resources and quiz items from knowledge files.

    Accepts what `studybot kb export` writes and the shipped formats: Markdown entries with front matter
    (concepts/*.md), resource files (a `resources:` list) and quiz files (an `items:` list). Ids map to server ids
    (concept-x becomes guild-x). All or nothing: every file is checked first; if anything is wrong each problem is
    printed as file:line: reason, nothing is changed, and the exit code is 1. Files are limited to 1 MB each.
    The import is recorded in the server's audit log as `studybot kb import`.
    """
    from bot.domain.knowledge_admin import InvalidUpload
    from bot.domain.ports import Actor

    settings = _settings()
    _setup_logging(settings)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in {".md", ".yaml", ".yml"})
        named = [(p.relative_to(path).as_posix(), p) for p in found]
    elif path.exists():
        named = [(path.name, path)]
    else:
        err.print(f"[red]{path} does not exist.[/]", highlight=False)
        raise typer.Exit(2)
    if not named:
        err.print(f"[red]{path} holds no .md or .yaml files.[/]", highlight=False)
        raise typer.Exit(2)
    files, unread = _read_uploads(named)
    if unread:
        for problem in unread:
            typer.echo(problem)
        err.print(f"Nothing was imported: {len(unread)} problem(s).")
        raise typer.Exit(1)
    actor = Actor(user_id=0, guild_id=guild, command="studybot kb import", trusted=True)

    async def work(services: Any) -> Any:
        try:
            return await services.kb_admin.import_files(actor, files, reason)
        except InvalidUpload as exc:
            return exc

    result = _with_services(settings, work)
    if isinstance(result, InvalidUpload):
        for problem in result.problems:
            typer.echo(problem)  # plain lines: editors and CI parse file:line
        err.print(f"Nothing was imported: {len(result.problems)} problem(s).")
        raise typer.Exit(1)
    out.print(f"Imported {len(files)} file(s) into server {guild}: {result}.", highlight=False)


def _read_uploads(named: list[tuple[str, Path]]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Each file's bytes, its size checked before it is read (never more than the limit is read), or a problem."""
    from bot.domain.content import read_capped
    from bot.domain.uploads import MAX_FILE_BYTES

    files: list[tuple[str, bytes]] = []
    problems: list[str] = []
    for name, p in named:
        try:
            files.append((name, read_capped(p, MAX_FILE_BYTES)))
        except ValueError as exc:
            problems.append(f"{name}:1: {exc}")
        except OSError as exc:
            problems.append(f"{name}:1: cannot read: {exc.strerror or exc}")
    return files, problems


def _backend(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite at {parsed.database}"
    return f"PostgreSQL at {parsed.host}:{parsed.port or 5432}/{parsed.database}"  # never the password


def _run_db(action: str, settings: Settings) -> str:
    import asyncio

    from bot.domain.errors import StudyBotError
    from bot.storage.engine import create_engine
    from bot.storage.migrate import current, head, upgrade

    async def go() -> str:
        engine = create_engine(settings.database)
        try:
            if action == "upgrade":
                await upgrade(engine)
            revision = await current(engine)
        finally:
            await engine.dispose()
        latest = head()
        state = "up to date" if revision == latest else f"behind (latest is {latest}; run `studybot db upgrade`)"
        return f"{_backend(settings.database)}: schema revision {revision or 'none'}, {state}."

    try:
        return asyncio.run(go())
    except StudyBotError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration. StudyBot also does this itself at start-up."""
    settings = _settings()
    _setup_logging(settings)
    out.print(_run_db("upgrade", settings))


@db_app.command("status")
def db_status() -> None:
    """Show which database is in use and whether its schema is up to date."""
    settings = _settings()
    _setup_logging(settings)
    out.print(_run_db("status", settings))


HOW_TO_CONNECT = """No Discord token configured, so the bot cannot start.

To run StudyBot on Discord:
  1. Open the Discord Developer Portal, create an application, and under Bot click "Reset Token".
  2. Enable the MESSAGE CONTENT privileged intent on that page (mentions carry the question).
  3. Put the token in .env as STUDYBOT_DISCORD_TOKEN=... (or export it), then run `studybot invite`.

To try StudyBot without Discord: `studybot chat`, or `studybot ask "What is overfitting?"`."""


@app.command()
def run() -> None:
    """Start the Discord bot (token from STUDYBOT_DISCORD_TOKEN or .env); Ctrl-C or SIGTERM stops it cleanly."""
    import asyncio

    settings = _settings()
    if settings.discord_token is None:
        err.print(HOW_TO_CONNECT, markup=False, highlight=False)
        raise typer.Exit(2)
    from bot.logs import register_settings, scrub, setup_logging

    log_file = settings.data_dir / "studybot.log"
    register_settings(settings)
    try:
        setup_logging(settings.log_level, log_file=log_file)
    except OSError as exc:  # the data folder itself is unusable: there is no log file to hold a traceback
        raise _storage_failure(exc) from None
    from bot.client import run_bot
    from bot.domain.errors import KnowledgeError, StudyBotError
    from bot.startup import explain

    try:
        asyncio.run(run_bot(settings))
    except KnowledgeError as exc:
        raise _knowledge_failure(exc) from None
    except StudyBotError as exc:
        err.print(f"[red]{scrub(exc.message)}[/]", highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # every other start-up failure: one line here, the traceback in the log file only
        logging.getLogger("bot.startup").error("start-up failed", exc_info=exc, extra={"to_file_only": True})
        err.print(f"[red]{scrub(explain(exc))}[/] (details in {log_file})", highlight=False)
        raise typer.Exit(1) from None


DEMO_QUESTION = "What is overfitting and how do I prevent it?"


@app.command()
def start() -> None:
    """The main job (`make run`): the Discord bot when a token is configured, else a demo answer and the console."""
    settings = _settings()
    if settings.discord_token is not None:
        run()
        return
    err.print(f"Ready: no STUDYBOT_DISCORD_TOKEN, so StudyBot runs locally. Demo: {DEMO_QUESTION}", highlight=False)
    with _stoppable():
        ask(DEMO_QUESTION, as_json=False)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    err.print(NEXT_STEPS, markup=False, highlight=False)
    if interactive:
        chat(name=None)


# After the demo: the three things to try next (issue 15). `make run` does not activate the venv, hence the paths.
NEXT_STEPS = """Next steps:
  .venv/bin/studybot chat                                    talk, /quiz, /streak and /progress here
  .venv/bin/studybot ask "How do I choose a learning rate?"  one answer with its sources (--json for scripts)
  On Discord: put STUDYBOT_DISCORD_TOKEN=... in .env, then make run (`.venv/bin/studybot run` explains the token)"""


@app.command()
def invite() -> None:
    """Print the URL that adds the bot to a server, with exactly the permissions it needs."""
    from bot.client import application_id, invite_url

    settings = _settings()
    app_id = application_id(settings)
    if app_id is None:
        err.print("Set STUDYBOT_DISCORD_TOKEN (or STUDYBOT_DISCORD_APPLICATION_ID) first; `studybot run` explains how.")
        raise typer.Exit(2)
    out.print(invite_url(app_id), soft_wrap=True)


def main() -> None:
    # NumPy's BLAS threads busy-wait for work: on the query encoder's small matrices, or on a machine whose cores
    # are already busy, a second thread only burns CPU (100 texts: 27 CPU s with the default, 4.5 s with one; see
    # bench/RESULTS.md). Set before anything imports NumPy; an explicit setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    app()


if __name__ == "__main__":
    main()
