"""Many users at once, small: concurrent sessions that must not see each other's state, and two training
requests at the same moment. The 20-session browser run is scripts/load_sessions.py (docs/robustness.md)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from conftest_app import kill_runs, studio_folder

from nmt_core.runs import RunInfo, active_runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    yield from studio_folder(tmp_path_factory, "load-studio")


def test_shared_model_under_concurrent_use(studio):
    """Every session of a server shares one cached Translator (st.cache_resource). Eight threads translate
    and inspect different sentences with it at once; each gets exactly what it gets alone. (AppTest itself
    cannot run sessions in parallel threads: its page switching is process-wide; the real-server check is
    test_three_browser_sessions_at_once and scripts/load_sessions.py.)"""
    import sys

    import numpy as np

    from nmt_core import inspection
    from nmt_core.translator import Translator

    sys.path.insert(0, str(ROOT / "scripts"))
    from load_sessions import pick_sentences

    path = Path(studio, "checkpoints", "toy-en-es.pt")
    cases = pick_sentences(path, 8)
    tr = Translator.from_path(path, "cpu")

    def work(src: str):
        m, toks = tr.model, tr.tokenizers
        return (tr.beam_search(src, beam_size=5).best.text, inspection.attention_matrix(m, toks, src, None).weights,
                inspection.gate_trace(m, toks, src).get("decoder", "f", 0, 0),
                inspection.gradient_flow(m, toks, src).salience)

    alone = [work(c["src"]) for c in cases]
    together: dict[int, object] = {}
    barrier = threading.Barrier(len(cases))

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            together[i] = work(cases[i]["src"])
        except Exception as err:  # noqa: BLE001
            together[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for i, case in enumerate(cases):
        got = together[i]
        assert not isinstance(got, Exception), got
        assert got[0] == alone[i][0] == case["beam"]
        for a, b in zip(got[1:], alone[i][1:]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_two_training_requests_at_the_same_moment(tmp_path):
    """Two sessions press Start at once: the launch lock lets exactly one run start, the other is told why
    (the JobLimitError names the running run)."""
    from nmt_core import jobs
    from nmt_core.config import ExperimentConfig

    cfg = ExperimentConfig.from_dict({"data": {"size": 300, "dev_size": 20, "test_size": 20},
                                      "model": {"embedding_size": 8, "hidden_size": 8},
                                      "train": {"max_steps": 100000, "threads": 1}})
    root = tmp_path / "runs"
    barrier, outcome = threading.Barrier(2), {}

    def press_start(name: str) -> None:
        barrier.wait(timeout=30)
        try:
            outcome[name] = jobs.start_training(cfg, root, name, limit=1, cwd=ROOT)
        except jobs.JobLimitError as err:
            outcome[name] = err

    threads = [threading.Thread(target=press_start, args=(n,)) for n in ("first", "second")]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        started = [n for n, o in outcome.items() if isinstance(o, RunInfo)]
        refused = [o for o in outcome.values() if isinstance(o, jobs.JobLimitError)]
        assert len(started) == 1 and len(refused) == 1, outcome
        assert "already running" in str(refused[0]) and f"run '{started[0]}'" in str(refused[0])
        assert [r.name for r in active_runs(root)] == started
    finally:
        kill_runs(root)


@pytest.mark.browser
@pytest.mark.skipif(os.environ.get("NMT_LOAD_TEST") != "1",
                    reason="~30 s (a second server and browser): NMT_LOAD_TEST=1 runs it; the checks above always run")
def test_three_browser_sessions_at_once(tmp_path):
    """scripts/load_sessions.py with 3 real browser sessions and the HTML payload (20 in docs/robustness.md).
    Once asked for, a missing Chromium fails under CI like tests/test_browser.py."""
    import sys

    from test_browser import _need_browser

    _need_browser()
    sys.path.insert(0, str(ROOT / "scripts"))
    from load_sessions import run_load

    started = time.perf_counter()
    summary = run_load(3, max_seconds=240, training=False, work=tmp_path)
    assert summary["failures"] == [] and summary["sessions_ok"] == 3 and summary["state_crossings"] == 0
    assert time.perf_counter() - started < 240


def test_protocol_students_each_get_their_own_translation(tmp_path):
    """scripts/class_clients.Student, the load script's browserless student, against a real server: three students
    open Translate, then type three different sentences at once; each receives exactly its own translation (the
    same text the checkpoint gives offline) and no exception. Guards the 30-student figures in docs/benchmarks.md."""
    import asyncio
    import sys

    from conftest_app import build_studio_env

    sys.path.insert(0, str(ROOT / "scripts"))
    from class_clients import Student
    from load_sessions import pick_sentences, start_server, stop_server

    env = build_studio_env(tmp_path)
    cases = pick_sentences(Path(env["NMT_STUDIO_CHECKPOINTS"]) / "toy-en-es.pt", 3)
    proc, url = start_server(tmp_path, env)

    async def one(case: dict):
        student = Student(url, "Translate")
        try:
            await student.open(timeout=120)
            return await student.type_sentence(case["src"], case["beam"], timeout=120)
        finally:
            await student.close()

    async def everyone():
        return await asyncio.gather(*(one(c) for c in cases))

    try:
        runs = asyncio.run(everyone())
    finally:
        stop_server(proc)
    for case, run in zip(cases, runs):
        assert run.shown_s is not None and run.finished_s is not None and not run.exceptions, (case, run)
        assert case["beam"] in [c.strip() for c in run.codes]
        assert not ({c["beam"] for c in cases} - {case["beam"]}) & {c.strip() for c in run.codes}
