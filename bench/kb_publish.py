"""Server knowledge overlays: how long from "an entry is written" to "an ask in that server returns it".

The shipped knowledge base is the base index; each run adds one new entry (a topic the shipped notes do
not cover) to one server's overlay, then times until ``AnswerService.ask`` in that server returns it as the
top source. Two paths: a local change (``KbSync.kick``) and a change made by another process (found by
polling ``versions()`` every ``kb_poll_seconds``). Baselines from the same run: one plain ask, and building
the same server index without reusing the shipped vectors (what a naive per-server build would cost).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.domain.ports import KbOverlay
from bot.retrieval.embedders import build_embedder, reusing_embedder
from bot.retrieval.servers import GuildIndexes, KbSync, service_factory
from bot.retrieval.shipped import IndexService
from bot.settings import Settings
from index.chunking import Document
from index.embedder import NumpyMiniLM
from index.store import IndexStore

GUILD = 4242
RUNS = 8  # per path; each run adds a different entry

# (slug, title, question, answer paragraph): topics absent from knowledge/ (checked with grep).
TOPICS = [
    ("mixture-of-experts", "Mixture of experts", "What is a mixture of experts model?",
     "A mixture of experts model routes each token to a few of many expert feed-forward networks chosen by a learned gating network, so only a fraction of the parameters run per token."),
    ("kolmogorov-arnold-networks", "Kolmogorov-Arnold networks", "What is a Kolmogorov-Arnold network?",
     "A Kolmogorov-Arnold network puts learnable univariate spline functions on the edges instead of fixed activations on the nodes, following the Kolmogorov-Arnold representation theorem."),
    ("diffusion-models", "Diffusion models", "How do diffusion models generate images?",
     "A diffusion model learns to reverse a gradual noising process: it is trained to predict the noise added to an image, and generates by starting from pure noise and denoising step by step."),
    ("federated-learning", "Federated learning", "What is federated learning?",
     "Federated learning trains one model across many devices that keep their data local: each device computes an update and a server averages the updates (FedAvg), so raw data never leaves the device."),
    ("spiking-neural-networks", "Spiking neural networks", "What is a spiking neural network?",
     "A spiking neural network communicates with discrete spikes over time, like biological neurons: a neuron integrates input into a membrane potential and fires when it crosses a threshold."),
    ("capsule-networks", "Capsule networks", "What is a capsule network?",
     "A capsule network groups neurons into capsules whose output vectors encode both the presence and the pose of a part, and uses routing by agreement to send parts to the wholes they predict."),
    ("conformal-prediction", "Conformal prediction", "What is conformal prediction?",
     "Conformal prediction wraps any model to output prediction sets with guaranteed coverage: nonconformity scores on a calibration set give a threshold so the true label is covered, say, 90 percent of the time."),
    ("curriculum-learning", "Curriculum learning", "What is curriculum learning?",
     "Curriculum learning trains a model on easy examples first and gradually introduces harder ones, the way people are taught, which can speed up convergence and improve the final model."),
    ("shapley-values", "Shapley values for explanations", "How do Shapley values explain a model prediction?",
     "Shapley values explain a prediction by giving each feature its average marginal contribution over all coalitions of features, a fair split from cooperative game theory used by the SHAP library."),
    ("isolation-forest", "Isolation forest", "How does an isolation forest detect anomalies?",
     "An isolation forest detects anomalies by isolating points with random splits: anomalies are few and different, so they end up alone after fewer splits, and a short average path length means an outlier."),
    ("siamese-networks", "Siamese networks", "What is a siamese network?",
     "A siamese network runs two inputs through the same weight-sharing encoder and compares the embeddings, which is how face verification and signature matching learn similarity from pairs."),
    ("echo-state-networks", "Echo state networks", "What is an echo state network?",
     "An echo state network is a reservoir computer: a large fixed random recurrent reservoir echoes the input history, and only the linear readout layer is trained, by ridge regression."),
    ("neural-architecture-search", "Neural architecture search", "What is neural architecture search?",
     "Neural architecture search automates the design of network architectures: a search strategy such as reinforcement learning, evolution or a differentiable relaxation explores a space of layers and connections."),
    ("variational-autoencoders", "Variational autoencoders", "What is a variational autoencoder?",
     "A variational autoencoder encodes an input into a distribution over a latent space, samples with the reparameterization trick, and is trained on reconstruction loss plus a KL divergence to a prior."),
    ("graph-neural-networks", "Graph neural networks", "What is a graph neural network?",
     "A graph neural network learns on graphs by message passing: each node repeatedly aggregates its neighbours' feature vectors and updates its own, so predictions use the graph structure."),
    ("active-learning", "Active learning", "What is active learning in machine learning?",
     "Active learning lets the model choose which unlabeled examples a human should label next, usually the ones it is least certain about, to reach good accuracy with far fewer labels."),
    ("hidden-markov-models", "Hidden Markov models", "What is a hidden Markov model?",
     "A hidden Markov model describes a sequence generated by hidden states that follow a Markov chain, each emitting an observation; the Viterbi algorithm finds the most likely hidden state sequence."),
]  # fmt: skip


def _document(slug: str, title: str, question: str, text: str) -> Document:
    body = f"# {title}\n\n## {question}\n{text}\n"
    return Document(id=f"guild-{slug}", title=title, path=f"overlay/{slug}.md", body=body, skill="machine-learning")


class _Source:
    """The overlay store in memory: ``put`` is "an entry is written", as the knowledge-admin service would."""

    def __init__(self) -> None:
        self.current = KbOverlay(GUILD, 0)

    def put(self, doc: Document) -> int:
        self.current = KbOverlay(GUILD, self.current.version + 1, (*self.current.documents, doc))
        return self.current.version

    async def versions(self) -> dict[int, int]:
        return {GUILD: self.current.version} if self.current.version else {}

    async def overlay(self, guild_id: int) -> KbOverlay:
        return self.current if guild_id == GUILD else KbOverlay(guild_id, 0)


async def _publish_runs(
    indexes: GuildIndexes, source: _Source, sync: KbSync, topics: list[tuple[str, str, str, str]], *, kick: bool
) -> tuple[list[float], list[str]]:
    seconds: list[float] = []
    failures: list[str] = []
    for slug, title, question, text in topics:
        doc = _document(slug, title, question, text)
        started = time.perf_counter()
        version = source.put(doc)
        if kick:
            sync.kick(GUILD)
        status = await sync.wait_for(GUILD, version, timeout=60)
        answer = await asyncio.to_thread(indexes.service(GUILD).ask, question)
        elapsed = time.perf_counter() - started
        top = answer.sources[0].doc_id if answer.sources else None
        if status.version_live != version or top != doc.id:
            failures.append(f"kb: {question!r} answered from {top!r} at version {status.version_live}, not {doc.id!r}")
        seconds.append(elapsed)
    return seconds, failures


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s · min {min(values):.2f} s · max {max(values):.2f} s (n={len(values)})"


async def _measure(
    indexes: GuildIndexes, poll_seconds: float, rows: list[tuple[str, str]]
) -> tuple[dict[str, list[float]], list[str], KbOverlay]:
    source = _Source()
    sync = KbSync(indexes, source, poll_seconds=poll_seconds)
    await sync.start()
    try:
        # The first publish of a process loads the build thread's encoder; timed, but kept apart.
        cold, failures = await _publish_runs(indexes, source, sync, TOPICS[:1], kick=True)
        kicked, more = await _publish_runs(indexes, source, sync, TOPICS[1 : 1 + RUNS], kick=True)
        polled, most = await _publish_runs(indexes, source, sync, TOPICS[1 + RUNS : 1 + 2 * RUNS], kick=False)
    finally:
        await sync.stop()
    rows.append(("kb publish → answerable, first in the process (cold encoder)", f"{cold[0]:.2f} s"))
    return {"kick": kicked, "poll": polled}, failures + more + most, source.current


def run(rows: list[tuple[str, str]]) -> list[str]:
    settings = Settings()
    base = IndexService(settings).ensure(lambda msg: print(msg, file=sys.stderr))
    query_embedder = NumpyMiniLM()
    make_service = service_factory(query_embedder, settings.abstain_threshold)
    with tempfile.TemporaryDirectory() as tmp:
        indexes = GuildIndexes(base, Path(tmp), make_service, reusing_embedder())
        times, failures, overlay = asyncio.run(_measure(indexes, settings.kb_poll_seconds, rows))
        service = indexes.service(GUILD)
        questions = [t[2] for t in TOPICS]
        for q in questions:  # warm-up
            service.ask(q)
        ask_s = []
        for q in questions * 3:
            t = time.perf_counter()
            service.ask(q)
            ask_s.append(time.perf_counter() - t)
        # The naive alternative: the same server index built without reusing the shipped vectors.
        t = time.perf_counter()
        naive = IndexStore(Path(tmp) / "naive").build(indexes.chunks_for(overlay), build_embedder, indexes.model_id)
        naive_s = time.perf_counter() - t

    detail = Table(title=f"kb publish → answerable in that server ({len(base.chunks)} shipped chunks)")
    for column in ("path", "n", "median", "min", "max"):
        detail.add_column(column)
    for path, values in times.items():
        detail.add_row(
            path,
            str(len(values)),
            f"{statistics.median(values):.2f} s",
            f"{min(values):.2f} s",
            f"{max(values):.2f} s",
        )
    Console(width=160).print(detail)

    kick_med = statistics.median(times["kick"])
    ask_med = statistics.median(ask_s)
    rows.append(("kb publish → answerable, local change (kick)", _summary(times["kick"])))
    rows.append(
        (f"kb publish → answerable, other process (poll every {settings.kb_poll_seconds:g} s)", _summary(times["poll"]))
    )
    rows.append(("baseline: warm ask in that server", f"p50 {ask_med * 1000:.1f} ms (n={len(ask_s)})"))
    rows.append(
        (
            "baseline: the same server index built without the shipped vectors",
            f"{naive_s:.1f} s ({naive.chunks} chunks, {naive.embedded} embedded, {naive.sentences_embedded} sentences)",
        )
    )
    rows.append(
        (
            "kb publish (kick) median vs baselines",
            f"{kick_med / naive_s:.1%} of the unseeded build · {kick_med / ask_med:.0f}× one ask · target < 5 s: "
            + ("PASS" if kick_med < 5 else "FAIL"),
        )
    )
    return failures
