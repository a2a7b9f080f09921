"""Robustness and safety: hostile sentences, hostile files, crashes during training, hostile paths.

Every row of docs/robustness.md names the test here (or in the file it points to) that backs it. The
kill -9 loop and the 20-session load test are scripts (scripts/kill_loop.py, scripts/load_sessions.py);
their small versions run here and in tests/test_load.py.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest_app import tiny_checkpoint
from streamlit.testing.v1 import AppTest

from nmt_core import inspection, jobs
from nmt_core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, make_payload, save_checkpoint
from nmt_core.config import ExperimentConfig
from nmt_core.corpus import CorpusError, read_corpus, read_csv, read_parallel, read_tsv
from nmt_core.inspection.sentence import MAX_PIECES
from nmt_core.model import Intervention
from nmt_core.runs import RunDir, list_runs, log_tail, run_info, run_path, safe_run_name
from nmt_core.tokenizer import EOS_ID
from nmt_core.translator import MAX_INPUT_PIECES, MAX_TARGET_PIECES, Translator

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")

#: Sentences nobody should type, and somebody will. The same list feeds the core and the pages.
HOSTILE = {
    "empty": "",
    "whitespace only": " \t\n\u00a0\u2009\u3000 ",
    "10,000 characters": ("the red car is fast " * 500)[:10_000],
    "one 10,000-character word": "x" * 10_000,
    "control characters": "the\x00red\x07car\x1b[31m is\u200b fast\ufeff\x7f",
    "emoji": "the 🚗 is red 🔥👍🏽 👨‍👩‍👧",
    "right-to-left": "مرحبا بالعالم שלום עולם the car",
    "bidi override": "\u202etxet desrever\u202c the red car",
    "unseen scripts": "我喜欢红色的车 ქართული ᚠᚢᚦ ꯃꯤꯇꯩ",
    "combining marks": "e\u0301\u0302\u0303\u0304" * 200,
    "html": "<img src=x onerror=alert(1)><script>alert('xss')</script> the car",
    "markdown": "**bold** [click](javascript:alert(1)) # heading $x^2$ :red[red] ![i](http://127.0.0.1:1/x.png)",
}
#: NMT_ROBUSTNESS_FULL=1 runs the whole matrix (every hostile sentence on every page, a model that babbles to
#: the length cap on the gradient page, a real full disk on a tmpfs); the default suite runs a fast subset.
FULL = os.environ.get("NMT_ROBUSTNESS_FULL") == "1"
full_only = pytest.mark.skipif(not FULL, reason="part of the full robustness matrix: NMT_ROBUSTNESS_FULL=1")

#: Markers that must never reach a Markdown element unescaped: raw HTML tags and a live javascript: link.
PAYLOAD_MARKERS = ("<img", "<script", "](javascript:")


# =============================================================================================== core
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two tiny untrained models: a word vocabulary (unknown words -> <unk>) and a character one
    (unknown characters -> <unk>), both with attention, so every code path meets hostile text.

    The word model babbles until the length cap (it exercises the caps); the character model's output bias
    favours </s>, as a trained model's does, so its inspection runs on long sources stay fast (gradient flow
    takes one backward pass per output token)."""
    from nmt_core import tasks
    from nmt_core.model import Seq2Seq
    from nmt_core.tokenizer import train_tokenizers

    pairs = tasks.generate("toy-en-es", size=200, seed=1)
    out = {}
    for kind in ("word", "char"):
        toks = train_tokenizers(pairs.src, pairs.tgt, model_type=kind, vocab_size=400, joint=False)
        cfg = ExperimentConfig.from_dict({"name": kind, "model": {"embedding_size": 8, "hidden_size": 8,
                                                                  "dropout": 0.0}})
        cfg.model.src_vocab_size, cfg.model.tgt_vocab_size = toks.src.vocab_size, toks.tgt.vocab_size
        torch.manual_seed(0)
        model = Seq2Seq(cfg.model).eval()
        if kind == "char":
            with torch.no_grad():
                model.out.bias[EOS_ID] += 6.0
        out[kind] = Translator(Checkpoint(None, cfg, model, toks), "cpu")
    return out


def _inspection_calls(tr: Translator, s: str):
    m, toks = tr.model, tr.tokenizers
    return {
        "attention_matrix": lambda: inspection.attention_matrix(m, toks, s, None),
        "attention_matrix(target=s)": lambda: inspection.attention_matrix(m, toks, "the red car", s),
        "gate_trace": lambda: inspection.gate_trace(m, toks, s),
        "gradient_flow": lambda: inspection.gradient_flow(m, toks, s),
        "intervene(block)": lambda: inspection.intervene(m, toks, s, Intervention(blocked_source=(0,))),
        "intervene(clamp)": lambda: inspection.intervene(m, toks, s, inspection.clamp_gate("decoder", 0, 0, "f",
                                                                                            0, 0.0)),
    }


@pytest.mark.parametrize("name", list(HOSTILE) + ["lone surrogate"])
def test_core_hostile_sentences(models, name):
    """translate / beam / sample / score / diagnose never raise on hostile text, stay within the length
    caps and finish quickly; inspection either works or raises ValueError with a one-line reason."""
    s = HOSTILE.get(name, "the \udcff red car")  # a lone surrogate: what surrogateescape makes of bad bytes
    for kind, tr in models.items():
        started = time.perf_counter()
        cap = 2 * (MAX_INPUT_PIECES + 1) + 5  # max_ratio 2.0 rule on a truncated source (+ </s>)
        (greedy,) = tr.translate([s])
        (beamed,) = tr.translate([s], beam_size=3)
        assert isinstance(greedy, str) and isinstance(beamed, str)
        result = tr.beam_search(s, beam_size=3, nbest=3)
        assert len(result.src_pieces) <= MAX_INPUT_PIECES + 1
        assert all(len(h.tokens) <= cap for h in result.hypotheses)
        assert tr.prepare(s).truncated == (len(tr.tokenizers.src.encode(s)) > MAX_INPUT_PIECES)
        assert all(isinstance(h.text, str) for h in tr.sample(s, n=2, seed=0))
        scored = tr.score(s, "el coche rojo")
        assert scored.logprob <= 0 and len(scored.tokens) == len(tr.tokenizers.tgt.encode("el coche rojo")) + 1
        verdict = tr.diagnose(s, "el coche rojo", beam_size=2)
        assert verdict.verdict
        if len(tr.tokenizers.tgt.encode(s)) <= MAX_TARGET_PIECES:
            tr.score("the red car", s)
        else:
            with pytest.raises(ValueError, match="at most"):
                tr.score("the red car", s)
        for what, call in _inspection_calls(tr, s).items():
            try:
                out = call()
            except ValueError as err:
                msg = str(err)
                assert "\n" not in msg and ("empty" in msg or f"up to {MAX_PIECES} pieces" in msg), (what, msg)
            else:
                assert out is not None
        assert time.perf_counter() - started < 60, f"{kind}: {name} took too long"


def test_core_empty_input_gives_empty_output(models):
    tr = models["word"]
    assert tr.translate(["", "   ", "the red car"])[:2] == ["", ""]
    with pytest.raises(ValueError, match="empty"):
        inspection.gate_trace(tr.model, tr.tokenizers, " \u3000 ")


def test_core_long_input_is_cut_with_a_notice_and_bounded(models):
    tr = models["char"]
    long = "the red car " * 1000
    prepared = tr.prepare(long)
    assert prepared.truncated and len(prepared.ids) == MAX_INPUT_PIECES
    started = time.perf_counter()
    result = tr.beam_search(long, beam_size=5)
    assert result.trace.settings["max_len"] <= 2 * (MAX_INPUT_PIECES + 1) + 5
    assert time.perf_counter() - started < 30


def test_core_long_target_and_prefix_are_refused(models):
    """Scoring and forced prefixes take one decoder step per piece: an unbounded target is refused."""
    tr = models["char"]
    huge = "el coche rojo " * 500  # ~7000 character pieces
    with pytest.raises(ValueError, match=f"at most {MAX_TARGET_PIECES}"):
        tr.score("the red car", huge)
    with pytest.raises(ValueError, match="forced prefix"):
        tr.beam_search("the red car", prefix=huge)
    with pytest.raises(ValueError, match="inspection handles sentences up to"):
        inspection.attention_matrix(tr.model, tr.tokenizers, "the red car", huge)


def test_cli_translate_survives_undecodable_stdin(tmp_path, monkeypatch, capsys):
    """Bytes that are not UTF-8 on stdin (under the C locale Python decodes them with surrogateescape)
    give a translation per line, not a sentencepiece crash."""
    from nmt_core.cli import main

    ckpt = ends_early(tiny_checkpoint(tmp_path / "m.pt"))
    stdin = io.TextIOWrapper(io.BytesIO(b"the red car\n\xff\xfe bad \xc3\n\n"), encoding="utf-8",
                             errors="surrogateescape")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["translate", "--checkpoint", str(ckpt), "--device", "cpu"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


# =============================================================================================== pages
@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A studio with two tiny models (fast to run) and an empty runs folder."""
    folder = tmp_path_factory.mktemp("hostile-studio")
    ckpts, runs = folder / "checkpoints", folder / "runs"
    ckpts.mkdir()
    runs.mkdir()
    ends_early(tiny_checkpoint(ckpts / "toy-en-es.pt"))
    tiny_checkpoint(ckpts / "tiny-gru.pt", cell="gru", attention="none", seed=1)  # babbles to the length cap
    mp = pytest.MonkeyPatch()
    for key, value in {"NMT_STUDIO_CHECKPOINTS": str(ckpts), "NMT_STUDIO_RUNS": str(runs),
                       "NMT_STUDIO_MAX_TRAININGS": "1", "NMT_STUDIO_MAX_UPLOAD_MB": "1"}.items():
        mp.setenv(key, value)
    yield folder
    from conftest_app import kill_runs

    kill_runs(runs)
    mp.undo()


def ends_early(path: Path) -> Path:
    """Give an untrained checkpoint a trained model's habit of ending its output soon (bias towards </s>),
    so the pages stay fast on long inputs; the untrained GRU keeps babbling up to the length cap."""
    from nmt_core.checkpoint import read_payload

    payload = read_payload(path)
    payload["model_state"]["out.bias"][EOS_ID] += 6.0
    save_checkpoint(payload, path)
    return path


def _open(page: str, model: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(f"pages/{page}").run()
    if model:
        from studio import models

        key = next(k for k, ref in models.available_models().items() if Path(ref.path).name == model)
        at.sidebar.selectbox(key="model").set_value(key).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def assert_safe(at: AppTest, what: str) -> None:
    """No exception, no element allowed to render HTML, and no HTML/JS payload in any element that is
    rendered as Markdown (markdown, caption, alerts, headings, progress text, toasts)."""
    assert not at.exception, (what, [e.message for e in at.exception])
    for node in at._tree:
        proto = getattr(node, "proto", None)
        assert getattr(node, "type", "") != "html", (what, "st.html used")
        if proto is None:
            continue
        assert not getattr(proto, "allow_html", False), (what, node.type, "unsafe_allow_html=True")
        if node.type in ("markdown", "caption", "alert", "heading", "title", "header", "subheader", "toast",
                         "progress", "error", "warning", "info", "success", "exception"):
            text = " ".join(str(getattr(proto, f, "")) for f in ("body", "text", "message"))
            assert not any(m in text.lower() for m in PAYLOAD_MARKERS), (what, node.type, text[:300])


FAST_LIST = ["empty", "10,000 characters", "html", "markdown"]
#: Page and the hostile sentences it gets (default suite: FAST_LIST, full matrix: every one of them).
PAGE_CASES = [(page, list(HOSTILE) if FULL else names) for page, names in [
    ("1_Translate.py", FAST_LIST + ["control characters", "unseen scripts"]), ("2_Attention.py", FAST_LIST),
    ("3_Gates.py", FAST_LIST[:3]), ("4_Gradients.py", FAST_LIST[:3]), ("6_Compare.py", ["html"]),
    ("13_Cost.py", FAST_LIST[:3])]]


@pytest.mark.parametrize("page,names", PAGE_CASES, ids=[p for p, _ in PAGE_CASES])
def test_pages_hostile_sentences(studio, page, names):
    at = _open(page)
    if page == "1_Translate.py":
        at.segmented_control(key="mode").set_value("greedy").run()
    for name in names:
        at.text_area(key="s").set_value(HOSTILE[name]).run()  # set_value: a client ignoring max_chars
        assert_safe(at, f"{page} / {name}")
        if not HOSTILE[name].strip():
            assert any("Type a sentence" in i.value for i in at.info), name
        if name == "10,000 characters":  # the server cuts it to max_chars, then to the inspection limit
            assert any("only the first" in w.value for w in at.warning), name
        if name in ("html", "markdown") and page == "1_Translate.py":
            assert any(c.value for c in at.code)  # the translation is shown, as literal text


@full_only
def test_gradient_page_on_a_model_that_babbles_to_the_length_cap(studio):
    """150 source pieces and an untrained model whose output runs to the cap: the inspection target is
    capped at MAX_PIECES, so gradient flow (one backward pass per target piece) stays bounded."""
    at = _open("4_Gradients.py", model="tiny-gru.pt")
    started = time.perf_counter()
    at.text_area(key="s").set_value(HOSTILE["10,000 characters"]).run()
    assert_safe(at, "gradients / babbling model")
    assert time.perf_counter() - started < 120


def test_translate_page_hostile_prefix_and_own_translation(studio):
    at = _open("1_Translate.py")
    at.segmented_control(key="mode").set_value("greedy").run()
    for name in (HOSTILE if FULL else ("html", "10,000 characters")):
        at.text_input(key="prefix").set_value(HOSTILE[name]).run()
        assert_safe(at, f"prefix / {name}")
        at.text_input(key="mine").set_value(HOSTILE[name]).run()
        assert_safe(at, f"own translation / {name}")


def test_attention_page_hostile_own_translation(studio):
    """'My own translation' longer than inspection allows (or hostile) gives a message, not a traceback."""
    at = _open("2_Attention.py")
    at.radio(key="target").set_value("my own translation").run()
    for name in (HOSTILE if FULL else ("html", "10,000 characters", "whitespace only")):
        at.text_input(key="mine").set_value(HOSTILE[name]).run()
        assert_safe(at, f"attention target / {name}")


def test_data_page_hostile_search_and_pieces(studio):
    at = _open("7_Data.py")
    for name in (HOSTILE if FULL else ("html", "10,000 characters")):
        at.text_input(key="q").set_value(HOSTILE[name]).run()
        assert_safe(at, f"data search / {name}")
        at.text_input(key="ps").set_value(HOSTILE[name]).run()
        assert_safe(at, f"data pieces / {name}")


#: The one place raw HTML reaches the page: the cell player, built by the core with every text escaped (tested
#: below with hostile labels), in Streamlit's component iframe.
HTML_ALLOWED = {"9_Cell.py": ("import streamlit.components.v1 as components",
                              "components.html(viz.cell_player(steps), height=viz.player_height(steps))")}


def test_no_page_renders_html():
    """Static guard: no page or helper opts into raw HTML (user text is shown with st.code/st.text), except the
    allowed lines above."""
    for path in [ROOT / "app.py", *sorted((ROOT / "studio").glob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]:
        source = path.read_text(encoding="utf-8")
        for line in HTML_ALLOWED.get(path.name, ()):
            assert line in source, f"{path.name}: the allowed line changed; review it and this list"
            source = source.replace(line, "")
        for needle in ("unsafe_allow_html=True", "st.html(", "components.html(", "components.v1"):
            assert needle not in source, f"{path.name} uses {needle}"


def test_the_cell_player_escapes_what_it_shows(studio):
    """Every text the player draws (token labels, the token a step reads) is escaped: hostile labels stay text."""
    import dataclasses

    from nmt_core.inspection.cell import cell_steps
    from nmt_core.viz.cell import cell_player
    from studio import models

    ref = models.available_models()["toy-en-es (shipped)"]
    steps = cell_steps(models.gates(ref, "the red car is fast"), "encoder", 0)
    hostile = [dataclasses.replace(s, label=HOSTILE["html"], reads=HOSTILE["html"]) for s in steps]
    page = cell_player(hostile)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in page


# =============================================================================================== training form
HOSTILE_RUN_NAMES = ["../escape", "/etc/passwd", "<script>alert(1)</script>", "[x](javascript:alert(1))", "..",
                     "a/../../b", "run name with spaces", "con\x00trol"]


def test_train_page_refuses_hostile_run_names(studio):
    at = _open("5_Train.py")
    for key, value in {"tr_size": 300, "tr_dev": 30, "tr_emb": 8, "tr_hidden": 8, "tr_steps": 10}.items():
        at.number_input(key=key).set_value(value)  # should a name slip through, the run is tiny
    for name in HOSTILE_RUN_NAMES if FULL else HOSTILE_RUN_NAMES[:4]:
        at.text_input(key="tr_name").input(name).run()
        at.button(key="tr_start").click().run()
        assert_safe(at, f"run name {name!r}")
        assert any("invalid run name" in w.value for w in at.warning), (name, [w.value for w in at.warning])
        assert not [p for p in Path(studio, "runs").iterdir() if not p.name.startswith(".")]
    assert not Path("/etc/passwd/status.json").exists()


# =============================================================================================== files
class FakeUpload(io.BytesIO):
    """What st.file_uploader hands the app: a file-like object with ``name`` and ``size``."""

    def __init__(self, data: bytes, name: str, size: int | None = None):
        super().__init__(data)
        self.name = name
        self.size = len(data) if size is None else size
        self.reads = 0

    def read(self, *args):
        self.reads += 1
        return super().read(*args)


def test_oversized_upload_is_refused_before_reading(studio, tmp_path):
    from studio import paths, uploads

    big = FakeUpload(b"a\tb\n", "big.tsv", size=int(paths.MAX_UPLOAD_MB * 2**20) + 1)
    with pytest.raises(ValueError, match="over the .* MB limit"):
        uploads.save_upload(big, tmp_path / "run", "corpus.tsv")
    assert big.reads == 0 and not (tmp_path / "run").exists()


@pytest.mark.parametrize("filename", ["../../../../tmp/evil.tsv", "/etc/cron.d/x.tsv", "..\\..\\win.tsv",
                                      "a.tsv/../../b.tsv", "\x00.tsv", "con.tsv" + "v" * 300, "ev il.t sv"])
def test_upload_names_cannot_escape_the_run_folder(studio, filename):
    """start_run saves uploads under a fixed name chosen by the app; only a (sanitised) suffix is kept."""
    from studio import train_form

    run = "upload-" + str(abs(hash(filename)) % 10_000)
    upload = FakeUpload(b"the red car\tel coche rojo\n" * 5, filename)
    raw = {"data": {"task": None, "corpus": {"format": "tsv"}, "dev_size": 1, "test_size": 1},
           "train": {"max_steps": 1}}
    message = train_form.start_run(run, raw, {"path": upload})
    root = Path(studio, "runs").resolve()
    for path in root.rglob("*"):
        assert path.resolve().is_relative_to(root), path
    assert not Path("/tmp/evil.tsv").exists() and not Path("/etc/cron.d/x.tsv").exists()
    if message is None:  # started: the corpus is inside the run folder
        saved = Path(yaml.safe_load((root / run / "requested.yaml").read_text())["data"]["corpus"]["path"])
        assert saved.resolve().parent == root / run / "data"
    _stop_all(root)


def _stop_all(root: Path) -> None:
    for info in list_runs(root):
        if info.active:
            jobs.kill_run(info.path)
    deadline = time.time() + 30
    while any(i.active for i in list_runs(root)) and time.time() < deadline:
        time.sleep(0.2)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


@pytest.mark.parametrize("data,match", [
    (os.urandom(4096), r"line \d+: .*not valid utf-8"),
    (b"\x00\x01\x02\xff" * 100, "not valid utf-8"),
    ("hello\tworld\n".encode("utf-16"), "not valid utf-8"),  # BOM + NULs: another encoding
    (b"PK\x03\x04" + os.urandom(200), "not valid utf-8|no tab separator"),  # a zip archive
    (b"\x1f\x8b\x08" + os.urandom(200), "not valid utf-8|no tab separator"),  # a gzip archive
    ("caf\xe9\tKaffee\n".encode("latin-1"), r"line 1: .*not valid utf-8"),
    ("a\tb\nc d e f\n", r"line 2: no tab separator"),
    ("\x00\x00\t\x00\n", None),  # NULs are valid UTF-8: read, and cleaning keeps them as unknown characters
])
def test_tsv_junk(tmp_path, data, match):
    path = write(tmp_path / "up.tsv", data)
    if match is None:
        assert len(read_tsv(path)) == 1
        return
    with pytest.raises(CorpusError, match=match) as err:
        read_tsv(path)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


def test_csv_mismatched_columns(tmp_path):
    path = write(tmp_path / "c.csv", "en,es\nthe car,el coche\nonly one column\n")
    with pytest.raises(CorpusError, match=r"line 3: missing value in column 'es'"):
        read_csv(path, "en", "es")
    with pytest.raises(CorpusError, match="column.*'de'.*not found; available columns: 'en', 'es'"):
        read_csv(path, "en", "de")
    bad_quote = write(tmp_path / "q.csv", 'en,es\n"unterminated,x\n')
    with pytest.raises(CorpusError):
        read_csv(bad_quote, "en", "es")


def test_parallel_files_with_different_line_counts(tmp_path):
    src = write(tmp_path / "s.txt", "a\nb\nc\n")
    tgt = write(tmp_path / "t.txt", os.urandom(10))
    with pytest.raises(CorpusError, match="not valid utf-8|line counts differ"):
        read_parallel(src, tgt)
    write(tmp_path / "t.txt", "x\ny\n")
    with pytest.raises(CorpusError, match="line counts differ"):
        read_parallel(src, tgt)


def test_corpus_spec_cannot_name_an_archive_format():
    with pytest.raises(CorpusError, match="unknown corpus format 'zip'"):
        read_corpus({"format": "zip", "path": "x.zip"})


def test_bad_upload_makes_the_run_fail_with_the_reason(studio):
    """Binary junk uploaded as a corpus: the training process reports the CorpusError in status.json
    (state "failed", the line and the bytes), instead of just dying."""
    from studio import train_form

    upload = FakeUpload(b"\x89PNG\r\n\x1a\n" + os.urandom(3000), "photo.tsv")
    raw = {"data": {"task": None, "corpus": {"format": "tsv"}, "dev_size": 1, "test_size": 1},
           "model": {"embedding_size": 8, "hidden_size": 8}, "train": {"max_steps": 5, "threads": 1}}
    assert train_form.start_run("junk-upload", raw, {"path": upload}) is None
    path = Path(studio, "runs", "junk-upload")
    deadline = time.time() + 90
    while run_info(path).active and time.time() < deadline:
        time.sleep(0.3)
    info = run_info(path)
    assert info.state == "failed", (info, log_tail(path))
    assert "not valid utf-8" in info.message and "line 1" in info.message


# ---- checkpoints (refusing pickles with code, truncation, format version and vocabulary mismatch are in
# tests/test_checkpoint.py; here: what they are not)
def test_checkpoint_junk_files(tmp_path, tiny_config, tiny_model, tiny_tokenizers):
    cases = {"empty.pt": b"", "text.pt": b"hello", "zip.pt": b"PK\x05\x06" + b"\x00" * 18,
             "random.pt": os.urandom(5000)}
    for name, data in cases.items():
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(write(tmp_path / name, data))
        assert "\n" not in str(err.value), name
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "dir.pt")
    payload = make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1)
    for key, value in [("src_spm", b"not a sentencepiece model"), ("config", "not a dict"),
                       ("model_state", {"encoder.bogus": torch.zeros(1)})]:
        save_checkpoint({**payload, key: value}, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match="damaged|do not fit"):
            load_checkpoint(tmp_path / "bad.pt")


def test_junk_checkpoint_in_the_models_folder_gives_a_message(studio):
    """A .pt file that is not a checkpoint (here: a text file) next to the shipped models: picking it shows
    why it cannot be used instead of a traceback on every page."""
    from studio import models

    junk = Path(studio, "checkpoints", "zz-junk.pt")
    junk.write_text("hello, I am not a checkpoint")
    key = next(k for k, ref in models.available_models().items() if Path(ref.path).name == junk.name)
    try:
        for page in ("1_Translate.py", "3_Gates.py") if FULL else ("3_Gates.py",):
            at = _open(page)
            at.sidebar.selectbox(key="model").set_value(key).run()
            assert_safe(at, f"junk checkpoint on {page}")
            assert any("cannot be used" in e.value and "not a checkpoint" in e.value for e in at.error)
    finally:
        junk.unlink()


def test_checkpoint_with_a_nan_weight_still_loads_but_translation_is_safe(tmp_path, tiny_config, tiny_model,
                                                                           tiny_tokenizers):
    """A checkpoint whose weights are NaN (e.g. saved by a broken script) decodes to *something* bounded."""
    with torch.no_grad():
        for p in tiny_model.parameters():
            p.fill_(float("nan"))
    save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1), tmp_path / "nan.pt")
    tr = Translator.from_path(tmp_path / "nan.pt", "cpu")
    (out,) = tr.translate(["the red car"])
    assert isinstance(out, str) and len(out.split()) <= 2 * 4 + 5


# =============================================================================================== training crashes
def tiny_raw(**train) -> dict:
    return {"name": "tiny", "data": {"task": "toy-en-es", "size": 300, "dev_size": 20, "test_size": 20},
            "tokenizer": {"type": "word", "vocab_size": 1000}, "model": {"embedding_size": 8, "hidden_size": 8},
            "train": {"batch_size": 16, "max_steps": 20, "eval_every": 10, "log_every": 5, "dev_bleu_sentences": 10,
                      "threads": 1, **train}}


def test_full_disk_while_saving_is_reported(tmp_path, monkeypatch):
    """ENOSPC in the middle of torch.save: status.json says failed with the OS message, last.pt is the
    previous complete checkpoint and no temp file is left behind."""
    from nmt_core import checkpoint as ckpt_mod
    from nmt_core.train import Trainer

    real_save, calls = torch.save, {"n": 0}

    def full_disk(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:  # best.pt and last.pt of step 10 are written; step 20 hits the full disk
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(ckpt_mod.torch, "save", full_disk)
    run = RunDir(tmp_path / "run")
    result = Trainer(ExperimentConfig.from_dict(tiny_raw()), run.path, progress_bar=False).train()
    assert result.state == "failed" and "No space left on device" in result.message
    status = run.read_status()
    assert status["state"] == "failed" and "No space left on device" in status["message"]
    monkeypatch.undo()
    assert load_checkpoint(run.last_checkpoint).step == 10
    assert not list(run.path.glob(".*.tmp"))


def test_torch_zip_writer_error_on_full_disk_becomes_oserror(tmp_path, monkeypatch, tiny_config, tiny_model,
                                                            tiny_tokenizers):
    """On a real full disk torch.save raises RuntimeError('[enforce fail at inline_container.cc] unexpected
    pos') while handling the OSError; save_checkpoint re-raises the OSError so the trainer reports ENOSPC."""
    real_save = torch.save

    def zip_writer_failure(obj, f, *args, **kwargs):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 36544 vs 36496")  # noqa: B904

    monkeypatch.setattr(torch, "save", zip_writer_failure)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1), tmp_path / "x.pt")
    monkeypatch.setattr(torch, "save", real_save)
    assert not list(tmp_path.iterdir())


def _can_mount_tmpfs() -> bool:
    return os.geteuid() == 0 and sys.platform.startswith("linux")


@full_only
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="mounting a tmpfs needs root on Linux")
def test_real_full_disk_on_a_tiny_tmpfs(tmp_path):
    """The same on a real tmpfs sized so that the step-10 checkpoints fit and the step-20 ones do not."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny_raw(max_steps=10)))
    subprocess.run([sys.executable, "-m", "nmt_core", "train", str(cfg), "--run-dir", str(tmp_path / "probe")],
                   cwd=ROOT, capture_output=True, timeout=180, check=True)  # to measure the checkpoint sizes
    sizes = sum((tmp_path / "probe" / name).stat().st_size for name in ("best.pt", "last.pt"))
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={sizes // 1024 + 40}k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("mount -t tmpfs is not permitted here")
    try:
        cfg.write_text(yaml.safe_dump(tiny_raw()))
        out = subprocess.run([sys.executable, "-m", "nmt_core", "train", str(cfg), "--run-dir", str(mnt / "run")],
                             cwd=ROOT, capture_output=True, text=True, timeout=180)
        status = json.loads((mnt / "run" / "status.json").read_text())
        assert out.returncode == 1 and status["state"] == "failed", (out.stderr[-2000:], status)
        assert "No space left on device" in status["message"]
        assert load_checkpoint(mnt / "run" / "last.pt").step == 10
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_unreadable_last_checkpoint_on_resume_is_reported(tmp_path, capsys):
    """A run whose last.pt is corrupt (not by us: a disk error, a hand edit) fails to resume with the
    reason in status.json instead of dying silently."""
    from nmt_core.cli import main

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny_raw()))
    run = RunDir(tmp_path / "run").create()
    run.last_checkpoint.write_bytes(b"PK\x03\x04 truncated")
    run.write_status("stopped", step=10, max_steps=20, message="stopped on request")
    assert main(["train", str(cfg), "--run-dir", str(run.path), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    status = run.read_status()
    assert status["state"] == "failed" and "not a readable checkpoint" in status["message"]
    assert status["step"] == 10  # what the studio showed before is kept


def test_kill_loop_fast(tmp_path):
    """scripts/kill_loop.py with 3 kills (one at a random moment, two while a checkpoint is being written)."""
    out = subprocess.run([sys.executable, "scripts/kill_loop.py", "--kills", "3", "--max-seconds", "150",
                          "--random-max", "4", "--workdir", str(tmp_path), "--json", str(tmp_path / "summary.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["kills"] == 3 and summary["failures"] == []
    assert summary["final_resume_ok"]


# =============================================================================================== paths
@pytest.mark.parametrize("name", ["..", "../x", "x/../../y", "/abs", "/etc/passwd", "a/b", "a\\b", ".hidden", "",
                                  " x", "x\x00", "x" * 81, "ü", "-flag", "x\ny", "..."])
def test_run_names_that_could_escape_are_refused(tmp_path, name):
    with pytest.raises(ValueError):
        safe_run_name(name)
    with pytest.raises(ValueError):
        run_path(tmp_path, name)


def test_run_path_refuses_a_symlink_out_of_the_runs_folder(tmp_path):
    root, outside = tmp_path / "runs", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="escapes the runs directory"):
        run_path(root, "link")
    cfg = ExperimentConfig.from_dict(tiny_raw())
    with pytest.raises(ValueError):
        jobs.start_training(cfg, root, "link")
    assert not list(outside.iterdir())


def test_resume_and_start_refuse_hostile_names(tmp_path):
    for call in (lambda: jobs.resume_training(tmp_path, "../x"), lambda: jobs.start_training(
            ExperimentConfig.from_dict(tiny_raw()), tmp_path, "/tmp/x")):
        with pytest.raises(ValueError, match="invalid run name"):
            call()


def test_cli_default_run_dir_cannot_escape(tmp_path, monkeypatch, capsys):
    """Without --run-dir the run goes to runs/<config name>: a name like ../../x is refused."""
    from nmt_core.cli import main

    raw = tiny_raw()
    raw["name"] = "../../escaped"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(cfg)]) == 2
    assert "invalid run name" in capsys.readouterr().err
    assert not (tmp_path.parent / "escaped").exists() and not (tmp_path / "escaped").exists()
