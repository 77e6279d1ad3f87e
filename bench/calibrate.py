"""Fit the confidence model on the dev set and pick the abstention threshold.

Label: 1 when the top document answers an in-scope question, 0 for out-of-scope questions
(in-scope questions the retriever gets wrong are left out: confidence should not learn from them
that good-looking matches are bad). Threshold: the highest value that keeps false abstention on
in-scope questions at or below the target, so out-of-scope abstention is as high as it can be.

Both sets' dev splits take part: the retrieval set (bench/devset*.yaml) labels the fit, and the answer sets'
dev questions (bench/answers*.yaml), phrased the way learners write on Discord, add off-topic examples to the
fit and in-scope searches to the threshold, each searched the way the answerer searches it (one search per
part of a multi-part question). Held-out splits are never read.

Run: .venv/bin/python -m bench.calibrate
"""

from __future__ import annotations

import sys

from bench import answers, devset
from bench.harness import open_retriever
from bot.domain.questions import analyze, search_text
from index.confidence import Calibration, fit

FALSE_ABSTENTION_TARGET = 0.02


def main() -> None:
    retriever = open_retriever()
    rows, labels, in_scope_rows = [], [], []
    for q in devset.load(split="dev"):  # the held-out third is only ever run
        result = retriever.search(q.text)
        if q.expect:
            correct = devset.first_hit_rank(result, q.expect, depth=1) == 1
            in_scope_rows.append(result.features)
            if correct:
                rows.append(result.features)
                labels.append(1)
        else:
            rows.append(result.features)
            labels.append(0)
    for q in answers.load_all():
        if q.split not in answers.DEV_SPLITS or not q.first_turn:  # a follow-up is searched rewritten
            continue
        analysis = analyze(q.question)
        for text in analysis.parts if analysis.kind == "multipart" else [q.question]:
            features = retriever.search(search_text(text)).features
            if q.offtopic:
                rows.append(features)
                labels.append(0)
            else:
                in_scope_rows.append(features)
    weights, bias = fit(rows, labels)
    probe = Calibration(weights, bias, 0.5)
    in_conf = sorted(probe.confidence(f) for f in in_scope_rows)
    allowed = int(FALSE_ABSTENTION_TARGET * len(in_conf))
    threshold = round(in_conf[allowed] - 1e-4, 4) if in_conf else 0.5
    out_conf = [probe.confidence(r) for r, y in zip(rows, labels, strict=True) if y == 0]
    calibration = Calibration(weights, bias, threshold)
    calibration.save()
    declined = sum(c < threshold for c in out_conf) / len(out_conf)
    false_abstain = sum(c < threshold for c in in_conf) / len(in_conf)
    print(f"weights={weights} bias={bias:.3f} threshold={threshold}", file=sys.stderr)
    print(f"out-of-scope declined: {declined:.3f}; in-scope falsely declined: {false_abstain:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
