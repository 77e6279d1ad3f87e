from index.chunking import MAX_WORDS, Document, chunk_document
from index.text import split_sentences


def _doc(body: str) -> Document:
    return Document(id="concept-x", title="X", path="knowledge/concepts/x.md", body=body, skill="math", body_line=9)


def test_one_chunk_per_section_with_title_path():
    """Each ## section becomes a chunk whose embedded text starts with its title path."""
    chunks = chunk_document(_doc("# X\n\n## What is X?\nX is a thing.\n\n## Why X?\nBecause it helps.\n"))
    assert [c.id for c in chunks] == ["concept-x#what-is-x", "concept-x#why-x"]
    assert chunks[0].embed_text.startswith("X > What is X?\n")
    assert chunks[1].line == 9 + 5


def test_long_sections_split_under_the_word_limit():
    """A section longer than ~300 words is split at paragraph boundaries with distinct stable ids."""
    para = " ".join(["word"] * 120) + "."
    chunks = chunk_document(_doc("# X\n\n## Long?\n" + "\n\n".join([para] * 6)))
    assert len(chunks) >= 3
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    assert chunks[1].id == "concept-x#long-2"


def test_run_on_sentence_is_cut_by_words():
    """Even a single sentence of 1,000 words never produces a chunk over the limit."""
    chunks = chunk_document(_doc("# X\n\n## Huge?\n" + " ".join(["w"] * 1000)))
    assert max(len(c.text.split()) for c in chunks) <= MAX_WORDS


def test_ids_are_stable_and_hashes_track_content():
    """Re-chunking the same text gives the same ids and hashes; editing a section changes only its hash."""
    a = chunk_document(_doc("# X\n\n## A?\nOne.\n\n## B?\nTwo.\n"))
    b = chunk_document(_doc("# X\n\n## A?\nOne.\n\n## B?\nTwo changed.\n"))
    assert [c.id for c in a] == [c.id for c in b]
    assert a[0].content_hash == b[0].content_hash
    assert a[1].content_hash != b[1].content_hash


def test_duplicate_headings_get_distinct_ids():
    """Two sections with the same heading still get different ids."""
    chunks = chunk_document(_doc("# X\n\n## Same?\nOne.\n\n## Same?\nTwo.\n"))
    assert len({c.id for c in chunks}) == 2


def test_subsections_keep_their_parent_in_the_path():
    """A ### heading's title path includes its ## parent."""
    chunks = chunk_document(_doc("# X\n\n## Parent?\nIntro.\n\n### Child\nDetail.\n"))
    assert chunks[1].heading_path == ("X", "Parent?", "Child")


def test_resource_is_one_chunk_with_url():
    """A resource document is indexed as one chunk that keeps its URL."""
    doc = Document(
        id="res-a",
        title="A course",
        path="r.yaml",
        body="A course. Good.",
        skill="math",
        kind="resource",
        url="https://example.org/",
    )
    (chunk,) = chunk_document(doc)
    assert chunk.url == "https://example.org/"
    assert chunk.id == "res-a"


def test_sentence_split_handles_lists_and_abbreviations():
    """Sentences split at sentence ends and list items, not inside decimals."""
    sentences = split_sentences("Use 0.5 as a start. Then tune it.\n\n- first item\n- second item")
    assert sentences == ["Use 0.5 as a start.", "Then tune it.", "- first item", "- second item"]


def test_comment_in_a_code_block_is_not_a_heading():
    """A `# comment` line inside fenced code stays in its section's chunk, so the code block is shown whole."""
    body = "# X\n\n## How?\nLike this:\n\n```python\nimport numpy as np\n# a comment\nx = 1\n```\n\n## Next?\nMore.\n"
    chunks = chunk_document(_doc(body))
    assert [c.heading_path[-1] for c in chunks] == ["How?", "Next?"]
    assert "# a comment\nx = 1\n```" in chunks[0].text


def test_a_long_section_never_cuts_through_a_code_block():
    """A code block with blank lines in a section over the word limit lands whole in one chunk."""
    code = "```python\n" + "\n\n".join(f"a{i} = {i}  # step {i} of the example" for i in range(40)) + "\n```"
    prose = " ".join(["word"] * 200) + "."
    chunks = chunk_document(_doc(f"# X\n\n## Long?\n{prose}\n\n{code}\n\n{prose}\n"))
    holding = [c for c in chunks if "```" in c.text]
    assert len(chunks) >= 2 and len(holding) == 1
    assert code in holding[0].text


def test_every_shipped_chunk_holds_whole_code_blocks():
    """No chunk of the shipped notes opens a code fence it does not close (16 did before fences were respected)."""
    from pathlib import Path

    from bot.domain.content import load_knowledge

    kb = load_knowledge(Path(__file__).resolve().parents[2] / "knowledge")
    chunks = [c for doc in kb.documents() for c in chunk_document(doc)]
    broken = [c.id for c in chunks if sum(line.lstrip().startswith("```") for line in c.text.splitlines()) % 2]
    assert chunks and not broken
