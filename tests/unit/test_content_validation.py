from pathlib import Path

from bot.domain.content import load_knowledge
from tests.helpers import small_kb, write_concept

SHIPPED = Path(__file__).resolve().parents[2] / "knowledge"


def test_small_kb_is_valid(tmp_path):
    """A well-formed knowledge folder loads with no problems."""
    kb = load_knowledge(small_kb(tmp_path))
    assert kb.problems == []
    assert set(kb.entries) == {"concept-overfitting", "concept-gradient-descent"}
    assert "res-linear-algebra-course" in kb.resources


def test_front_matter_errors_name_file_and_line(tmp_path):
    """A bad skill and an unknown related id are reported as file:line: reason."""
    small_kb(tmp_path)
    path = tmp_path / "concepts" / "overfitting.md"
    text = (
        path.read_text()
        .replace("skill: machine-learning", "skill: cooking")
        .replace("related: []", "related: [concept-nope]")
    )
    path.write_text(text)
    problems = load_knowledge(tmp_path).problems
    assert any(p.startswith(f"{path.relative_to(tmp_path.parent)}:4: skill:") for p in problems), problems


def test_unknown_related_id_is_reported(tmp_path):
    """related ids must exist in the knowledge base."""
    small_kb(tmp_path)
    path = tmp_path / "concepts" / "overfitting.md"
    path.write_text(path.read_text().replace("related: []", "related: [concept-nope]"))
    problems = load_knowledge(tmp_path).problems
    assert any("related: unknown id 'concept-nope'" in p for p in problems), problems


def test_missing_front_matter_and_sections(tmp_path):
    """A file without front matter, and one with too few sections, are both rejected clearly."""
    (tmp_path / "concepts").mkdir()
    (tmp_path / "concepts" / "bare.md").write_text("# Bare\n\nNo front matter.\n")
    write_concept(tmp_path, "thin", "Thin", "Body.")
    thin = tmp_path / "concepts" / "thin.md"
    thin.write_text(thin.read_text().split("## Why")[0])
    problems = load_knowledge(tmp_path).problems
    assert any("bare.md:1: missing YAML front matter" in p for p in problems)
    assert any("thin.md:9: needs 2-6 '## ' sections, found 1" in p for p in problems), problems


def test_invalid_yaml_points_at_the_line(tmp_path):
    """Broken YAML in a resource file is reported at the line where parsing failed."""
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "math.yaml").write_text("id: resources-math\ntitle: [unclosed\nskill: math\n")
    (problem,) = load_knowledge(tmp_path).problems
    assert problem.startswith("resources/math.yaml:") or "math.yaml:" in problem
    assert "invalid YAML" in problem


def test_resource_field_errors_use_the_field_line(tmp_path):
    """A resource with a bad URL and cost names the line of each bad field."""
    small_kb(tmp_path)
    path = tmp_path / "resources" / "math.yaml"
    path.write_text(
        path.read_text()
        .replace("https://ocw.mit.edu/courses/18-06-linear-algebra-spring-2010/", "not a url")
        .replace("cost: free", "cost: cheap")
    )
    problems = load_knowledge(tmp_path).problems
    assert any(":10: url:" in p for p in problems), problems
    assert any(":14: cost:" in p for p in problems), problems


def test_quiz_checks_options_answer_source_and_duplicates(tmp_path):
    """Quiz items need 4 distinct options, a valid answer, an existing source, and unique prompts."""
    small_kb(tmp_path)
    (tmp_path / "quiz").mkdir()
    item = """\
  - id: q-math-00{n}
    skill: math
    topic: test
    difficulty: 2
    prompt: "Which rule differentiates a composition of functions?"
    options: [{options}]
    answer: {answer}
    explanation: "The chain rule multiplies derivatives; the product rule is for products."
    source: {source}
"""
    (tmp_path / "quiz" / "math.yaml").write_text(
        "id: quiz-math\ntitle: Q\nskill: math\nlevel: beginner\nitems:\n"
        + item.format(
            n=1, options="chain rule, product rule, sum rule, power rule", answer=0, source="concept-gradient-descent"
        )
        + item.format(n=2, options="a, a, b, c", answer=7, source="concept-missing")
    )
    problems = load_knowledge(tmp_path).problems
    assert any("options: Value error" not in p and "options must be distinct" in p for p in problems), problems
    assert any("answer:" in p for p in problems), problems
    (tmp_path / "quiz" / "math.yaml").write_text(
        "id: quiz-math\ntitle: Q\nskill: math\nlevel: beginner\nitems:\n"
        + item.format(n=1, options="chain rule, product rule, sum rule, power rule", answer=0, source="concept-missing")
        + item.format(
            n=2, options="chain rule, product rule, sum rule, power rule", answer=0, source="concept-overfitting"
        )
    )
    problems = load_knowledge(tmp_path).problems
    assert any("source: unknown id 'concept-missing'" in p for p in problems), problems
    assert any("prompt: duplicate of the prompt at" in p for p in problems), problems


def test_binary_file_is_rejected(tmp_path):
    """A binary file dropped into the knowledge folder is named as binary, not crashed on."""
    (tmp_path / "concepts").mkdir()
    (tmp_path / "concepts" / "junk.md").write_bytes(b"\x00\x01\x02\xff")
    (problem,) = load_knowledge(tmp_path).problems
    assert "junk.md:1: this is a binary file" in problem


def test_missing_folder_is_one_clear_problem(tmp_path):
    """A knowledge folder that does not exist gives one clear problem."""
    (problem,) = load_knowledge(tmp_path / "nope").problems
    assert "does not exist" in problem


def test_every_shipped_file_is_valid():
    """Every file in the shipped knowledge/ folder passes validation."""
    kb = load_knowledge(SHIPPED)
    assert kb.problems == []


def test_shipped_content_meets_the_brief():
    """Seven skill files of 6-12 sections, at least 40 concepts, 60 resources (6 per skill), 300 quiz items (30 per skill)."""
    kb = load_knowledge(SHIPPED)
    skills = [e for e in kb.entries.values() if e.id.startswith("skill-")]
    concepts = [e for e in kb.entries.values() if e.id.startswith("concept-")]
    assert len(skills) == 7
    assert all(6 <= len(e.sections) <= 12 for e in skills)
    assert len(concepts) >= 40
    assert len(kb.resources) >= 60
    per_skill = {s: sum(r.skill == s for r in kb.resources.values()) for s in {e.skill for e in skills}}
    assert min(per_skill.values()) >= 6, per_skill
    assert len(kb.quiz) >= 300
    quiz_per_skill = {s: sum(q.skill == s for q in kb.quiz.values()) for s in per_skill}
    assert min(quiz_per_skill.values()) >= 30, quiz_per_skill


def test_resource_document_names_its_cost_in_words(tmp_path):
    """A free-to-audit course is indexed as 'free to audit', the words a learner searches with."""
    small_kb(tmp_path)
    path = tmp_path / "resources" / "math.yaml"
    path.write_text(path.read_text().replace("cost: free", "cost: free-to-audit"))
    kb = load_knowledge(tmp_path)
    assert kb.problems == []
    (doc,) = [d for d in kb.documents() if d.kind == "resource"]
    assert "a free to audit course" in doc.body


def test_python_block_that_does_not_parse_is_reported_at_its_line(tmp_path):
    """kb validate names the note and the line of a python block's syntax error."""
    small_kb(tmp_path)
    body = "A snippet:\n```python\nimport numpy as np\nx = np.zeros((2, 3)\n```"
    path = write_concept(tmp_path, "broken-code", "Broken code", body)
    problems = load_knowledge(tmp_path).problems
    where = path.relative_to(tmp_path.parent)
    assert problems == [f"{where}:15: python code block does not parse: '(' was never closed"], problems


def test_code_block_lines_are_not_headings_and_fences_must_close(tmp_path):
    """A '# comment' inside a code block is no title or section; an unknown option or open fence is reported."""
    small_kb(tmp_path)
    ok = write_concept(
        tmp_path, "commented", "Commented", "Code:\n```python runnable\n# a comment\n## not a section\n```"
    )
    kb = load_knowledge(tmp_path)
    assert kb.problems == [] and len(kb.entries["concept-commented"].sections) == 2
    ok.unlink()
    path = write_concept(tmp_path, "open-fence", "Open fence", "Code:\n```python runable\nx = 1\n")
    where = path.relative_to(tmp_path.parent)
    assert load_knowledge(tmp_path).problems == [
        f"{where}:9: needs 2-6 '## ' sections, found 1",  # the open fence swallowed the next section
        f"{where}:13: this code block is never closed (add a line with the fence)",
        f"{where}:13: code block 'python runable': the only option after python is 'runnable'",
    ]
