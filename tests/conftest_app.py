"""Helpers shared by the studio tests (tests/test_pages.py, tests/test_browser.py); imported, not a plugin.

``studio_env`` builds a folder of checkpoints for the app to offer: the shipped default model
(checkpoints/toy-en-es.pt) when it exists, otherwise a tiny untrained stand-in with the same task, and
a second, different model (GRU, no attention) so the Compare page and the no-attention branches run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from nmt_core import tasks
from nmt_core.checkpoint import make_payload, save_checkpoint
from nmt_core.config import ExperimentConfig
from nmt_core.model import Seq2Seq
from nmt_core.runs import list_runs, pid_alive
from nmt_core.tokenizer import train_tokenizers

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "toy-en-es.pt"


def tiny_checkpoint(path: Path, *, cell: str = "lstm", attention: str = "additive", seed: int = 0) -> Path:
    """An untrained toy-en-es model (hidden 16) saved as a real checkpoint, with a fake history."""
    pairs = tasks.generate("toy-en-es", size=300, seed=3)
    toks = train_tokenizers(pairs.src, pairs.tgt, model_type="word", vocab_size=1000, joint=False)
    cfg = ExperimentConfig.from_dict({
        "name": path.stem,
        "data": {"task": "toy-en-es", "size": 400, "dev_size": 40, "test_size": 80},
        "tokenizer": {"type": "word", "vocab_size": 1000},
        "model": {"cell": cell, "attention": attention, "embedding_size": 16, "hidden_size": 16, "dropout": 0.0},
    })
    cfg.model.src_vocab_size, cfg.model.tgt_vocab_size = toks.src.vocab_size, toks.tgt.vocab_size
    torch.manual_seed(seed)
    model = Seq2Seq(cfg.model).eval()
    history = [{"kind": "train", "step": s, "loss": 5.0 / s, "ppl": 1.0, "grad_norm": 1.0, "elapsed_s": s / 10}
               for s in (10, 20, 30)] + [{"kind": "dev", "step": 30, "dev_loss": 0.5, "bleu": 12.0, "chrf": 30.0}]
    save_checkpoint(make_payload(cfg, model, toks, step=30, history=history,
                                 metrics={"bleu": 12.0, "chrf": 30.0, "dev_loss": 0.5, "dev_ppl": 1.6}), path)
    return path


def build_studio_env(folder: Path) -> dict[str, str]:
    """Checkpoints and runs folders for one test session; returns the environment variables to set."""
    ckpts, runs = folder / "checkpoints", folder / "runs"
    ckpts.mkdir(parents=True, exist_ok=True)
    runs.mkdir(exist_ok=True)
    if SHIPPED.exists():
        shutil.copy2(SHIPPED, ckpts / "toy-en-es.pt")
    else:
        tiny_checkpoint(ckpts / "toy-en-es.pt")
    tiny_checkpoint(ckpts / "tiny-gru.pt", cell="gru", attention="none", seed=1)
    # The page tests exercise the toy model's alignment views by default; the real-language default is tested
    # in test_pages.test_studio_opens_on_the_real_language_model.
    return {"NMT_STUDIO_CHECKPOINTS": str(ckpts), "NMT_STUDIO_RUNS": str(runs), "NMT_STUDIO_LAB_BUDGET": "tiny",
            "NMT_STUDIO_MAX_TRAININGS": "1", "NMT_STUDIO_DEFAULT_MODEL": "toy-en-es"}


def kill_runs(runs: Path) -> None:
    """Stop every training process a test left behind (by the pids in the run folders it created)."""
    from nmt_core import jobs

    for info in list_runs(runs):
        if info.active:
            jobs.kill_run(info.path)
    for pid_file in runs.glob("_labs/*.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
            if pid_alive(pid):
                os.killpg(os.getpgid(pid), 15)
        except (OSError, ValueError):
            pass


def studio_folder(tmp_path_factory, name: str):
    """Generator for a module fixture: a temp folder with the studio's env vars set, runs killed after."""
    import pytest

    folder = tmp_path_factory.mktemp(name)
    mp = pytest.MonkeyPatch()
    for key, value in build_studio_env(folder).items():
        mp.setenv(key, value)
    yield folder
    kill_runs(folder / "runs")
    mp.undo()
