"""Answers shaped by the question, with the real model on the shipped notes (issue 14)."""

from __future__ import annotations

import json
import re

import pytest

from bot.domain.answering import ANSWER_LIMIT, Answer
from bot.domain.conversation import ChatMemory
from tests.integration.test_cli import run

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def answers(shipped_service):
    return shipped_service.answer_service(lambda msg: None)


def test_multi_part_question_answers_every_part_in_order(answers):
    """'What is overfitting and how do I prevent it?' answers both parts, each under its own heading and source."""
    answer = answers.ask("What is overfitting and how do I prevent it?")
    assert answer.kind == "multipart" and not answer.abstained
    first, second = answer.answer.index("**What is overfitting?**"), answer.answer.index("**How do I prevent")
    assert first < second
    assert re.search(r"noise|memori[sz]", answer.answer[first:second], re.I)
    assert re.search(r"regulari[sz]|more (training )?data|early stopping", answer.answer[second:], re.I)
    assert answer.answer.count("*Source:") == 2
    assert "underfit" not in answer.answer[:second].lower()  # the demo question no longer gets the wrong section


def test_a_part_outside_the_notes_is_declined_alone(answers):
    """One part in the notes and one not: the first is answered, the second says it is not in the notes."""
    answer = answers.ask("what is dropout? also how do I bake sourdough bread?")
    assert not answer.abstained and answer.kind == "multipart"
    assert "dropout" in answer.answer.lower()
    assert "That part isn't in my notes yet" in answer.answer


def test_parts_answered_by_one_section_are_shown_once_in_note_order(answers):
    """Both parts find the LLN-vs-CLT section: it is shown once, under no repeated heading, and covers the CLT."""
    answer = answers.ask("what is the law of large numbers and how is it different from the central limit theorem")
    assert not answer.abstained and answer.kind == "multipart"
    assert "**" not in answer.answer  # no part headings: one answer from one section
    assert answer.answer.count("The law of large numbers says where the sample mean ends up") == 1
    assert re.search(r"approximately normal", answer.answer)
    assert answer.answer.index("sample mean converges") < answer.answer.index("approximately normal")  # note order


def test_a_later_part_prefers_a_section_the_first_did_not_show(answers):
    """After the seeds section answers "what's a random seed", the GPU part comes from the GPU section."""
    answer = answers.ask("what's a random seed, and why do i still get different results on gpu after setting it?")
    first, second = answer.answer.index("**What"), answer.answer.index("**Why")
    assert re.search(r"seed", answer.answer[first:second], re.I)
    assert re.search(r"atomic|cuDNN|floating-point|nondetermin", answer.answer[second:], re.I)


def test_compare_covers_both_sides(answers):
    """A comparison shows both sides: L1 and L2 each appear, from the entry that contrasts them."""
    answer = answers.ask("L1 vs L2 regularization, what's the difference?")
    assert answer.kind == "compare" and not answer.abstained
    text = answer.answer.lower()
    assert "l1" in text and "l2" in text
    assert len(answer.answer) <= ANSWER_LIMIT


def test_compare_without_one_entry_shows_each_side(answers):
    """Bagging vs boosting: each side is answered, from the entries that teach each."""
    answer = answers.ask("whats the diff btw bagging and boosting")
    text = answer.answer.lower()
    assert "bootstrap" in text or "bagging" in text
    assert "boost" in text
    assert len({s.doc_id for s in answer.sources}) >= 1


def test_how_to_naming_pytorch_gets_the_pytorch_way(answers):
    """'How do I move my model to the GPU in PyTorch?' shows PyTorch code (.to(device)), kept whole."""
    answer = answers.ask("how do i move my model to the gpu in pytorch?")
    assert not answer.abstained and answer.kind == "howto"
    assert ".to(" in answer.answer
    assert answer.answer.count("```") % 2 == 0  # every code block shown is closed


def test_recommendation_lists_resources_of_the_medium_asked(answers):
    """'youtube is fine' gets resources, as a list, with videos first; other questions never get resource blurbs."""
    answer = answers.ask("any good course for linear algebra? youtube is fine")
    assert answer.kind == "recommend" and not answer.abstained
    assert answer.answer.startswith("- **")
    assert all(s.doc_id.startswith("res-") for s in answer.sources)
    assert "video" in answer.answer.split("\n")[0]
    other = answers.ask("what is an eigenvector?")
    assert not any(s.doc_id.startswith("res-") for s in other.sources)


def test_follow_up_is_rewritten_and_a_drift_declined(answers):
    """A follow-up borrows the subject before it; an off-topic drift inside the conversation is still declined."""
    chat = ChatMemory()

    def ask(question: str) -> Answer:
        answer = answers.ask(question, history=chat.history("c"))
        if not answer.abstained:
            chat.remember("c", answer.question, answer.standalone_question, answer.doc_ids)
        return answer

    first = ask("what is dropout?")
    assert not first.abstained and not first.rewritten
    second = ask("why does that help?")
    assert second.standalone_question == "why does dropout help?"
    drift = ask("what's the best pizza in naples?")
    assert drift.abstained and not drift.rewritten
    topping = ask("and what about pineapple on it?")
    assert topping.abstained


def test_a_long_follow_up_with_a_pronoun_is_resolved_when_the_notes_agree(answers):
    """ "why do ppl say its bad in deep nets" after the sigmoid is about the sigmoid; "speaking of…" drifts away."""
    chat = ChatMemory()

    def ask(question: str) -> Answer:
        answer = answers.ask(question, history=chat.history("s"))
        chat.remember("s", answer.question, answer.standalone_question, answer.doc_ids)
        return answer

    assert not ask("whats a sigmoid function").abstained
    second = ask("why do ppl say its bad in deep nets")
    assert second.rewritten and "sigmoid" in second.standalone_question
    assert re.search(r"vanish|saturat", second.answer, re.I)
    piano = ask("speaking of functions, how do i tune my piano myself")
    assert piano.abstained and not piano.rewritten


def test_cli_json_conversations_interleave(ready_settings):
    """`ask --json` on stdin: lines with the same conversation id form one chat, even interleaved with another."""
    lines = [
        {"question": "how should I schedule my learning rate?", "conversation": "a"},
        {"question": "what is dropout?", "conversation": "b"},
        {"question": "does adam still need one?", "conversation": "a"},
        {"question": "why does that help?", "conversation": "b"},
        "why does that help?",
        {"question": "what happens if it's too high?", "conversation": "a"},
    ]
    stdin = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n"
    proc = run(["ask", "--json"], ready_settings, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    assert all({"standalone_question", "kind"} <= set(o) for o in out)
    assert out[2]["standalone_question"] == "does adam still need a learning rate schedule?"
    assert out[3]["standalone_question"] == "why does dropout help?"
    assert out[4]["standalone_question"] == "why does that help?"  # a plain line is a standalone question
    assert "learning rate" in out[5]["standalone_question"]


def test_cli_json_bad_conversation_lines_get_clear_errors(ready_settings):
    """A 10,000-character id, a JSON line without a question, broken JSON and 500 turns: clear errors, no crash."""
    long_id = json.dumps({"question": "what is dropout?", "conversation": "x" * 10_000})
    missing = json.dumps({"conversation": "a"})
    wrong = json.dumps({"question": 42})
    many = [json.dumps({"question": "what is dropout?", "conversation": "long"})] * 500
    stdin = "\n".join([long_id, missing, wrong, '{"question": "oops"', *many]) + "\n"
    proc = run(["ask", "--json"], ready_settings, stdin=stdin, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 504
    assert "at most 100 characters" in out[0]["answer"] and out[0]["abstained"]
    assert '"question" string' in out[1]["answer"] and '"question" string' in out[2]["answer"]
    assert "not valid JSON" in out[3]["answer"]
    assert all(not o["abstained"] for o in out[4:])


@pytest.fixture(scope="module")
def ready_settings(shipped_service):
    return shipped_service.settings
