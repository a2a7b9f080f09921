"""Data-parallel training: `torchrun --nproc_per_node 2 -m nmt_core train` (gloo, CPU) gives the weights of
single-process training on the same global batches, and only rank 0 writes the run directory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from nmt_core.checkpoint import load_checkpoint
from nmt_core.config import ExperimentConfig
from nmt_core.distributed import World
from nmt_core.runs import RunDir
from nmt_core.train import train

ROOT = Path(__file__).resolve().parents[1]


def tiny() -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "name": "ddp",
        "data": {"task": "toy-en-es", "size": 300, "dev_size": 20, "test_size": 20},
        "tokenizer": {"type": "word", "vocab_size": 1000},
        "model": {"embedding_size": 16, "hidden_size": 16, "dropout": 0.0},
        "train": {"batch_size": 16, "max_steps": 6, "eval_every": 6, "log_every": 3, "dev_bleu_sentences": 8,
                  "threads": 1, "device": "cpu", "seed": 3},
    })


def test_shard_takes_every_nth_sentence_and_covers_the_batch():
    batch = list(range(10, 17))
    shards = [World(rank, 3, rank).shard(batch) for rank in range(3)]
    assert shards == [[10, 13, 16], [11, 14], [12, 15]]
    assert sorted(sum(shards, [])) == batch
    assert World(0, 3, 0).usable([[1, 2, 3], [4, 5], [6, 7, 8, 9]]) == [[1, 2, 3], [6, 7, 8, 9]]
    assert World.single().shard(batch) == batch and not World.single().enabled


@pytest.mark.timeout(120)
def test_two_gloo_processes_match_single_process_training(tmp_path):
    cfg = tiny()
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.to_dict()))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("RANK", None), env.pop("WORLD_SIZE", None), env.pop("LOCAL_RANK", None)
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "nmt_core", "train", str(cfg_path), "--run-dir", str(tmp_path / "ddp")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=110)
    assert out.returncode == 0, out.stderr[-3000:]
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(results) == 1 and results[0]["step"] == 6  # rank 0 alone reports

    train(tiny(), tmp_path / "single", progress_bar=False)

    ddp, single = load_checkpoint(tmp_path / "ddp" / "last.pt"), load_checkpoint(tmp_path / "single" / "last.pt")
    assert ddp.step == single.step == 6
    a, b = ddp.model.state_dict(), single.model.state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=2e-5, rtol=1e-4, msg=name)
    # the logged loss is the global-batch loss, and the dev metrics are rank 0's validation
    ddp_metrics, single_metrics = RunDir(tmp_path / "ddp").read_metrics(), RunDir(tmp_path / "single").read_metrics()
    for kind, column in (("train", "loss"), ("train", "grad_norm"), ("dev", "dev_loss")):
        x = ddp_metrics[ddp_metrics.kind == kind][column].tolist()
        y = single_metrics[single_metrics.kind == kind][column].tolist()
        assert x == pytest.approx(y, rel=1e-4)
    assert RunDir(tmp_path / "ddp").read_status()["state"] == "finished"
