"""Composition: note chunks cut into whole blocks, lists trimmed honestly, sentences selected across chunks."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot.domain.compose import Block, Candidate, Composer, Passage, parse_blocks, render, trim_list
from bot.domain.questions import analyze
from index.chunking import Chunk
from index.text import split_sentences

# --- parse_blocks -------------------------------------------------------------------------------------------


def kinds(blocks: list[Block]) -> list[str]:
    return [b.kind for b in blocks]


def test_list_keeps_its_lead_in():
    """A list and the sentence introducing it ('...:') form one block; the prose around it stays sentences."""
    text = (
        "Picking a learning rate takes a few tries. Practical approaches:\n"
        "- Sweep it on a log scale.\n"
        "- Run a range test.\n\n"
        "Start low when unsure."
    )
    blocks = parse_blocks(text)
    assert kinds(blocks) == ["sentence", "list", "sentence"]
    assert blocks[0].text == "Picking a learning rate takes a few tries."
    assert blocks[1].text == "Practical approaches:\n- Sweep it on a log scale.\n- Run a range test."
    assert blocks[2].text == "Start low when unsure."


def test_lead_in_one_paragraph_above_the_list_still_joins_it():
    """A lead-in separated from its list by a blank line still travels with the list."""
    blocks = parse_blocks("It shows up in three areas:\n\n1. Data\n2. Model\n3. Training")
    assert kinds(blocks) == ["list"]
    assert blocks[0].text.splitlines() == ["It shows up in three areas:", "1. Data", "2. Model", "3. Training"]


def test_sentence_without_colon_is_not_taken_as_lead_in():
    """Only a sentence ending with ':' introduces a list; an ordinary sentence before a list stays on its own."""
    blocks = parse_blocks("Dropout is a regularizer.\n- It zeroes units.\n- It is off at eval time.")
    assert kinds(blocks) == ["sentence", "list"]
    assert blocks[1].text.startswith("- It zeroes units.")


def test_wrapped_list_item_is_joined_to_its_item():
    """A list item continued on the next line is one item, not a stray line."""
    blocks = parse_blocks("Steps:\n- Freeze the base\n  and train the head.\n- Unfreeze it.")
    assert blocks[0].text == "Steps:\n- Freeze the base and train the head.\n- Unfreeze it."


def test_fenced_code_block_is_kept_whole_with_blank_lines_and_runnable_marker_dropped():
    """A ```python runnable block stays one block with its blank lines; readers see ```python only."""
    text = (
        "Move the model and the batch like this:\n"
        "```python runnable\n"
        "import torch\n"
        "\n"
        "device = 'cuda' if torch.cuda.is_available() else 'cpu'\n"
        "\n"
        "\n"
        "model = torch.nn.Linear(2, 1).to(device)\n"
        "```\n"
        "Both must live on the same device."
    )
    blocks = parse_blocks(text)
    assert kinds(blocks) == ["code", "sentence"]
    code = blocks[0].text
    assert code.splitlines()[0] == "Move the model and the batch like this:"
    assert code.splitlines()[1] == "```python"
    assert "runnable" not in code
    assert "import torch\n\ndevice" in code
    assert "\n\n\nmodel = torch.nn.Linear" in code
    assert code.endswith("```")
    assert blocks[1].text == "Both must live on the same device."


def test_code_that_looks_like_a_list_or_heading_stays_inside_the_fence():
    """Lines inside a fence that start with '- ' or '#' are code, not bullets."""
    text = "```bash\n# install\n- not a bullet\npip install torch\n```"
    blocks = parse_blocks(text)
    assert kinds(blocks) == ["code"]
    assert blocks[0].text == text


def test_unclosed_fence_is_closed_not_leaked():
    """A fence the note forgot to close is closed in what is shown, so Discord does not swallow the reply."""
    blocks = parse_blocks("Run:\n```\npip install torch\n")
    assert kinds(blocks) == ["code"]
    assert blocks[0].text.count("```") == 2


def test_tilde_fence_is_a_code_block():
    """~~~ fences are code blocks too and close with ~~~."""
    blocks = parse_blocks("~~~\nx = 1\n~~~\nAfter.")
    assert kinds(blocks) == ["code", "sentence"]
    assert blocks[0].text == "~~~\nx = 1\n~~~"


@pytest.mark.parametrize(
    "text",
    [
        "Intro. Options:\n- a one\n- b two\nAfter the list.",
        "- only item",
        "Three things:\n\n- one\n\n- two\n\n- three",
        "Text.\n* star item\n+ plus item\n1) numbered\n10. ten",
        "Code:\n```\n- x\n```\n- real bullet\n- other",
        "Lead:\n- item with `code`\n  - nested item\n- last",
    ],
)
def test_never_a_dangling_bullet(text):
    """Every bullet line ends up inside a list block, never as a sentence of its own."""
    blocks = parse_blocks(text)
    for block in blocks:
        if block.kind == "sentence":
            assert not re.match(r"\s*(?:[-*+]|\d+[.)])\s", block.text), block
    outside_fences = re.sub(r"```.*?```", "", text, flags=re.S)
    bullets = [ln.strip() for ln in outside_fences.splitlines() if re.match(r"\s*(?:[-*+]|\d+[.)])\s", ln)]
    listed = "\n".join(b.text for b in blocks if b.kind == "list")
    assert all(bullet in listed for bullet in bullets), (bullets, listed)


def test_nested_items_keep_their_indent():
    """A nested bullet keeps its indentation so Discord still shows it under its parent."""
    blocks = parse_blocks("Lead:\n- parent\n  - child\n- sibling")
    assert blocks[0].text == "Lead:\n- parent\n  - child\n- sibling"


def test_blocks_are_numbered_in_note_order():
    """Block order follows the note, which the composer uses to show picks in the note's order."""
    blocks = parse_blocks("One. Two.\n\nThree:\n- a\n- b\n\n```\ncode\n```\nFour.")
    assert [b.order for b in blocks] == list(range(len(blocks)))
    assert [b.kind for b in blocks] == ["sentence", "sentence", "list", "code", "sentence"]


# --- trim_list ----------------------------------------------------------------------------------------------


def list_block(text: str) -> Block:
    (block,) = parse_blocks(text)
    assert block.kind == "list"
    return block


def test_trim_list_refuses_to_cut_a_counted_list():
    """A lead-in that states a count ('three areas:') is never shown with fewer items."""
    block = list_block("Overfitting shows up in three areas:\n- data size\n- model size\n- training length")
    assert trim_list(block, len(block.text) - 5) is None
    assert trim_list(block, len(block.text)) == block


@pytest.mark.parametrize("lead", ["Both matter:", "There are 4 steps:", "Two common fixes:"])
def test_trim_list_refuses_any_count_word(lead):
    """Number words, digits and 'both' in a lead-in all count as a promise."""
    block = list_block(f"{lead}\n- alpha item here\n- beta item here\n- gamma item here\n- delta item here")
    assert trim_list(block, len(block.text) - 20) is None


def test_trim_list_keeps_lead_and_first_items_that_fit():
    """A list without a count is cut after the last whole item that fits, lead-in kept."""
    block = list_block("Practical approaches:\n- Sweep the rate.\n- Run a range test.\n- Use warmup.\n- Decay it.")
    budget = len("Practical approaches:\n- Sweep the rate.\n- Run a range test.") + 3
    trimmed = trim_list(block, budget)
    assert trimmed is not None
    assert trimmed.text == "Practical approaches:\n- Sweep the rate.\n- Run a range test."
    assert len(trimmed.text) <= budget
    assert trimmed.order == block.order


def test_trim_list_keeps_the_most_relevant_items_in_note_order():
    """Given a relevance, the items that matter most to the question are kept, shown in the note's order."""
    block = list_block("Useful habits:\n- Pin versions.\n- Keep data out.\n- Use a slim base.\n- Add a dockerignore.")
    wanted = {"- Use a slim base.": 0.9, "- Add a dockerignore.": 0.8}
    budget = len("Useful habits:\n- Use a slim base.\n- Add a dockerignore.") + 2
    trimmed = trim_list(block, budget, lambda item: wanted.get(item, 0.1))
    assert trimmed is not None
    assert trimmed.text == "Useful habits:\n- Use a slim base.\n- Add a dockerignore."
    assert trim_list(block, budget).text == "Useful habits:\n- Pin versions.\n- Keep data out."  # type: ignore[union-attr]


def test_trim_list_keeps_numbered_steps_from_the_first():
    """Numbered steps are cut to the first ones, never "1. … 3.", whatever the relevance of the later steps."""
    block = list_block("A plan:\n1. Ask the recruiter.\n2. Practise coding.\n3. Review ML.\n4. Do mock interviews.")
    budget = len("A plan:\n1. Ask the recruiter.\n2. Practise coding.\n3. Review ML.") + 2
    trimmed = trim_list(block, budget, lambda item: 0.9 if "mock" in item or "Review" in item else 0.1)
    assert trimmed is not None
    assert trimmed.text == "A plan:\n1. Ask the recruiter.\n2. Practise coding.\n3. Review ML."


def test_trim_list_shows_one_relevant_item_as_prose_when_it_stands_alone():
    """When only one item fits, the most relevant one is shown as the sentence it is, if it reads as one."""
    block = list_block(
        "- `pyproject.toml` declares the project and its ranges.\n- A lock file pins it all.\n"
        "- `requirements.txt` is pip's format, made by `pip freeze`."
    )
    score = {"- `requirements.txt` is pip's format, made by `pip freeze`.": 0.9}
    budget = len("`requirements.txt` is pip's format, made by `pip freeze`.") + 5
    shown = trim_list(block, budget, lambda item: score.get(item, 0.1))
    assert shown is not None and shown.kind == "sentence"
    assert shown.text == "`requirements.txt` is pip's format, made by `pip freeze`."
    lead = Block("sentence", "These files answer two questions.", (), shown.order - 1, block.paragraph)
    line = Passage(chunk("x", "unused"), [lead, shown]).text
    assert line == "These files answer two questions. … `requirements.txt` is pip's format, made by `pip freeze`."
    fragment = list_block("Habits:\n- keep data out of the image;\n- pin the base image tag and versions;")
    assert trim_list(fragment, 40, lambda item: 0.5) is None  # "keep data out of the image;" is no sentence


def test_trim_list_keeps_at_least_two_items():
    """A cut that would leave a single item (a dangling bullet) gives nothing instead."""
    block = list_block("Practical approaches:\n- Sweep the rate.\n- Run a range test.\n- Use warmup.")
    assert trim_list(block, len("Practical approaches:\n- Sweep the rate.") + 2) is None


def test_trim_list_without_lead_in_still_needs_two_items():
    """A bare list is cut to the items that fit, and only if at least two do."""
    block = list_block("- aaa aaa\n- bbb bbb\n- ccc ccc")
    trimmed = trim_list(block, 20)
    assert trimmed is not None and trimmed.text == "- aaa aaa\n- bbb bbb"
    assert trim_list(block, 10) is None


def test_trim_list_drops_a_sentence_block_that_does_not_fit():
    """A non-list block is returned whole when it fits and dropped (None) when it does not."""
    (sentence,) = parse_blocks("A fairly long sentence about dropout.")
    assert trim_list(sentence, 100) == sentence
    assert trim_list(sentence, 10) is None


# --- Composer.select ---------------------------------------------------------------------------------------

AXES = ["overfit", "stop", "pytorch", "keras", "gpu", "pizza", "extra1", "extra2"]


def vec(*weights: tuple[str, float]) -> np.ndarray:
    v = np.zeros(len(AXES), dtype=np.float32)
    for axis, w in weights:
        v[AXES.index(axis)] = w
    return v / np.linalg.norm(v)


class FakeVectors:
    """Deterministic sentence vectors keyed like the real index: by ``split_sentences`` of each chunk."""

    def __init__(self, chunks: list[Chunk], table: dict[str, np.ndarray], default: np.ndarray) -> None:
        self.chunks = chunks
        self.table = table
        self.default = default

    def __call__(self, row: int) -> dict[str, np.ndarray]:
        return {s: self.table.get(s, self.default) for s in split_sentences(self.chunks[row].text)}


def chunk(cid: str, text: str, heading: str = "Section") -> Chunk:
    doc = cid.partition("#")[0]
    return Chunk(
        id=cid,
        doc_id=doc,
        title=doc.title(),
        heading_path=(doc.title(), heading),
        text=text,
        path=f"knowledge/concepts/{doc}.md",
        skill="training",
        sentences=tuple(split_sentences(text)),
    )


QUERY = vec(("stop", 1.0), ("overfit", 0.3))


def test_select_respects_the_budget_in_what_is_shown():
    """The rendered answer never exceeds the budget, whatever the budget."""
    sentences = [f"Early stopping note number {i} watches the validation loss closely." for i in range(30)]
    text = " ".join(sentences[:10]) + "\n\n" + " ".join(sentences[10:20]) + "\n\n" + " ".join(sentences[20:])
    chunks = [chunk("es#a", text), chunk("es2#b", text.replace("note", "remark"))]
    rng = np.random.default_rng(7)
    table = {}
    for s in split_sentences(chunks[0].text) + split_sentences(chunks[1].text):
        v = QUERY + rng.normal(0, 0.6, len(AXES)).astype(np.float32)
        table[s] = v / np.linalg.norm(v)
    composer = Composer(FakeVectors(chunks, table, QUERY))
    cands = [Candidate(0, chunks[0], 0.8), Candidate(1, chunks[1], 0.79)]
    analysis = analyze("what is early stopping")
    for budget in (130, 200, 333, 500, 1000):
        shown = render(composer.select(cands, QUERY, analysis, budget))
        assert shown
        assert len(shown) <= budget, (budget, len(shown))


def test_select_keeps_note_order_within_a_passage():
    """Picked sentences are shown in the order the note gives them, not in order of relevance."""
    text = (
        "Early stopping ends training when validation loss stalls. "
        "Pizza is unrelated filler here. "
        "It keeps the weights from the best epoch."
    )
    c = chunk("es#what", text)
    table = {
        "Early stopping ends training when validation loss stalls.": vec(("stop", 0.8), ("overfit", 0.6)),
        "Pizza is unrelated filler here.": vec(("pizza", 1.0)),
        "It keeps the weights from the best epoch.": vec(("stop", 1.0), ("extra1", 0.2)),
    }
    composer = Composer(FakeVectors([c], table, vec(("pizza", 1.0))))
    (passage,) = composer.select([Candidate(0, c, 0.9)], QUERY, analyze("what is early stopping"), 1000)
    shown = passage.text
    first = shown.index("Early stopping ends training")
    second = shown.index("It keeps the weights")
    assert first < second
    assert "Pizza" not in shown or shown.index("Pizza") < second


def test_select_drops_redundant_sentences_across_chunks():
    """A sentence that says what an already-picked one says (cosine above REDUNDANT) is not shown twice."""
    a = chunk("es#a", "Early stopping halts training once validation loss stops improving.")
    b = chunk("reg#b", "Training halts early once the validation loss stops improving. Patience sets how long to wait.")
    table = {
        "Early stopping halts training once validation loss stops improving.": vec(("stop", 1.0)),
        "Training halts early once the validation loss stops improving.": vec(("stop", 1.0), ("extra1", 0.1)),
        "Patience sets how long to wait.": vec(("overfit", 1.0), ("stop", 0.2)),
    }
    composer = Composer(FakeVectors([a, b], table, vec(("pizza", 1.0))))
    query = vec(("stop", 1.0), ("overfit", 1.0))  # both relevant; the near-duplicate pair has cosine ~0.995
    passages = composer.select(
        [Candidate(0, a, 0.9), Candidate(1, b, 0.88)], query, analyze("what is early stopping"), 1000
    )
    shown = render(passages)
    assert "Early stopping halts training" in shown
    assert "Training halts early" not in shown
    assert "Patience sets how long to wait." in shown


def test_select_prefers_the_chunk_naming_the_library_asked_for():
    """With PyTorch asked, a PyTorch chunk slightly behind in retrieval is shown first."""
    generic = chunk("es#generic", "Early stopping watches a validation metric and stops when it stalls.")
    torch_chunk = chunk("es#pytorch", "In PyTorch you track the best validation loss yourself and break the loop.")
    table = {
        generic.sentences[0]: vec(("stop", 1.0)),
        torch_chunk.sentences[0]: vec(("stop", 1.0), ("pytorch", 0.5)),
    }
    composer = Composer(FakeVectors([generic, torch_chunk], table, vec(("pizza", 1.0))))
    analysis = analyze("how do i use early stopping in pytorch")
    assert analysis.library == "PyTorch"
    passages = composer.select([Candidate(0, generic, 0.80), Candidate(1, torch_chunk, 0.77)], QUERY, analysis, 1000)
    assert passages[0].chunk.id == "es#pytorch"


def test_select_penalizes_a_chunk_about_a_rival_library():
    """With PyTorch asked, a Keras chunk ranks below a general one it narrowly beat in retrieval."""
    keras = chunk("es#keras", "In Keras, the EarlyStopping callback stops training when the monitored metric stalls.")
    generic = chunk("es#generic", "Early stopping watches a validation metric and stops when it stalls.")
    table = {keras.sentences[0]: vec(("stop", 1.0), ("keras", 0.5)), generic.sentences[0]: vec(("stop", 1.0))}
    composer = Composer(FakeVectors([keras, generic], table, vec(("pizza", 1.0))))
    analysis = analyze("how do i use early stopping in pytorch")
    ranked = composer.rank([Candidate(0, keras, 0.82), Candidate(1, generic, 0.80)], analysis)
    assert [c.chunk.id for c in ranked] == ["es#generic", "es#keras"]
    passages = composer.select([Candidate(0, keras, 0.82), Candidate(1, generic, 0.80)], QUERY, analysis, 1000)
    assert passages[0].chunk.id == "es#generic"
    # Without a library named the retriever's order stands.
    plain = composer.rank([Candidate(0, keras, 0.82), Candidate(1, generic, 0.80)], analyze("what is early stopping"))
    assert plain[0].chunk.id == "es#keras"


def test_select_scores_sentences_the_index_split_differently():
    """A sentence the composer splits off (it starts with `code`) still gets the index sentence's vector."""
    text = "Call `model.eval()` before validating. `torch.no_grad()` then skips the graph. Pizza filler sentence."
    c = chunk("ev#a", text)
    index_sentences = split_sentences(text)
    table = {s: (vec(("pytorch", 1.0)) if "model.eval" in s else vec(("pizza", 1.0))) for s in index_sentences}
    composer = Composer(FakeVectors([c], table, vec(("pizza", 1.0))))
    query = vec(("pytorch", 1.0))
    scored = composer.blocks(Candidate(0, c, 0.9), query, analyze("what does model.eval() do"))
    best = max(scored, key=lambda t: t[0])
    assert best[0] > 0.9
    assert "model.eval()" in best[1].text


def test_sentence_with_superscripts_gets_the_index_sentences_vector():
    """ "σ²" in the note is "σ2" in the NFKC-normalized index, and the sentence still gets its own vector, not 0."""
    text = "The variance σ² must be finite for the theorem to hold. Pizza filler sentence."
    c = chunk("clt#a", text)
    table = {
        "The variance σ2 must be finite for the theorem to hold.": vec(("stop", 1.0)),
        "Pizza filler sentence.": vec(("pizza", 1.0)),
    }

    class NormalizedIndex(FakeVectors):
        def __call__(self, row: int) -> dict[str, np.ndarray]:
            return table

    composer = Composer(NormalizedIndex([c], table, vec(("pizza", 1.0))))
    scored = composer.blocks(Candidate(0, c, 0.9), vec(("stop", 1.0)), analyze("what must be finite"))
    best = max(scored, key=lambda t: t[0])
    assert best[0] > 0.9 and "σ²" in best[1].text


def test_select_keeps_a_too_long_code_block_balanced():
    """When even the best block is over budget, what is shown never leaves a code fence open."""
    code = "Run this:\n```python\n" + "\n".join(f"x{i} = {i}" for i in range(200)) + "\n```"
    c = chunk("code#a", code)
    composer = Composer(FakeVectors([c], {}, QUERY))
    passages = composer.select([Candidate(0, c, 0.9)], QUERY, analyze("how do i run it in pytorch"), 300)
    shown = render(passages)
    assert len(shown) <= 300
    assert shown.count("```") % 2 == 0


def test_select_with_no_candidates_is_empty():
    """No retrieved chunks means nothing to show, not an error."""
    assert Composer(FakeVectors([], {}, QUERY)).select([], QUERY, analyze("what is x"), 1000) == []


def test_sentence_pointing_back_is_kept_with_the_sentence_it_points_to():
    """ "It does not change…" never stands alone: it is one block with the sentence that says what "it" is."""
    blocks = parse_blocks("model.eval() switches dropout off. It does not stop gradient tracking. Batch norm differs.")
    assert [b.text for b in blocks] == [
        "model.eval() switches dropout off. It does not stop gradient tracking.",
        "Batch norm differs.",
    ]
    assert blocks[0].sentences == ("model.eval() switches dropout off.", "It does not stop gradient tracking.")


def test_sentences_are_shown_as_the_notes_write_them():
    """Superscripts and subscripts survive: NFKC would show "x²" as "x2", a different formula."""
    blocks = parse_blocks("The loss is x² here. Adam decays m with β₁.")
    assert [b.text for b in blocks] == ["The loss is x² here.", "Adam decays m with β₁."]


def test_yes_no_question_prefers_the_sentence_with_a_verdict():
    """Asked "should I…", a sentence that gives a verdict beats an equally similar one that only describes."""
    text = "Git tracks text. Weights files are large binary checkpoints. Large binary files should not go into git."
    c = chunk("git#what", text)
    table = {s: vec(("stop", 1.0)) for s in split_sentences(text)}
    table["Git tracks text."] = vec(("pizza", 1.0))
    composer = Composer(FakeVectors([c], table, vec(("pizza", 1.0))))
    query = vec(("stop", 1.0))
    yes_no = {b.text: s for s, b, _ in composer.blocks(Candidate(0, c, 0.9), query, analyze("should i commit weights"))}
    explain = {b.text: s for s, b, _ in composer.blocks(Candidate(0, c, 0.9), query, analyze("what are weights files"))}
    verdict, plain = "Large binary files should not go into git.", "Weights files are large binary checkpoints."
    assert yes_no[verdict] > yes_no[plain]
    assert explain[verdict] == explain[plain]


def test_a_compare_asking_which_to_choose_prefers_the_verdict():
    """ "X vs Y, which should I use?" lifts the sentence that gives a verdict; a plain "X vs Y" does not."""
    text = "Poetry manages dependencies and builds. For a new project, you should start with uv instead."
    c = chunk("pk#a", text)
    same = vec(("stop", 1.0))
    composer = Composer(FakeVectors([c], {}, same))
    verdict = "For a new project, you should start with uv instead."

    def score(question: str) -> float:
        asks = analyze(question)
        assert asks.kind == "compare"
        return {b.text: sc for sc, b, _ in composer.blocks(Candidate(0, c, 0.9), same, asks)}[verdict]

    assert score("poetry vs uv, which should i use?") > score("poetry vs uv") + 0.03
