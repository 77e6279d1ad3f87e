"""The input boundary (bot/inputs.py, index.text.clean): undecodable input becomes valid text, never a crash."""

from __future__ import annotations

import io
import json

from bot.inputs import from_bytes, json_line, lines, repair
from index.text import clean


def test_surrogate_escaped_argv_is_decoded_with_replacement():
    """An argv string holding invalid UTF-8 (surrogate-escaped by Python) becomes text with U+FFFD."""
    smuggled = b"what is \xc3\x28 overfitting".decode("utf-8", "surrogateescape")
    fixed = repair(smuggled)
    assert fixed == "what is \ufffd( overfitting"
    fixed.encode("utf-8")  # would raise if a surrogate were left


def test_lone_json_surrogates_are_replaced():
    """A lone surrogate outside the escape range (a JSON "\\ud800") is replaced too."""
    assert "\ud800" not in repair("a\ud800b") and repair("a\ud800b").startswith("a")
    repair("a\ud800b\udcffc").encode("utf-8")


def test_stdin_lines_survive_a_bad_line():
    """Every line of a byte stream comes out as text, the bad one included, in order."""
    stream = io.BytesIO(b"what is overfitting?\nwhat is \xc3\x28 overfitting\r\n\xff\xfe\xfd\n")
    assert list(lines(stream)) == ["what is overfitting?", "what is \ufffd( overfitting", "\ufffd\ufffd\ufffd"]


def test_json_line_is_always_valid_utf8():
    """Output is valid UTF-8 JSON even when a string still carries a surrogate."""
    raw = json_line({"question": "x\udcff"})
    assert json.loads(raw.decode("utf-8"))["question"].startswith("x")


def test_clean_drops_surrogates_before_the_tokenizer():
    """clean() removes lone surrogates, so the tokenizer is never handed one (repro 1's TypeError)."""
    assert clean("what is \udcc3( overfitting") == "what is ( overfitting"


def test_from_bytes_normalises():
    """Decomposed accents are composed (NFC), so the same word always looks the same."""
    assert from_bytes("cafe\u0301".encode()) == "caf\u00e9"
