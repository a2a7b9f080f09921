"""Training throughput: tokens per second, achieved FLOP/s as a fraction of this machine's matmul peak,
and (``--peer``) the same figures for JoeyNMT 2.3.0 measured in the same run.

Run: ``python bench/train_throughput.py [--config small|medium] [--threads N] [--steps 200] [--peer]``
(docs/benchmarks.md has the figures and the exact commands).

Data: 20,000 training pairs of 5-15 words (plus 500 dev, 1,000 test) drawn with a fixed seed from the
Tatoeba English-German file (``--zip``, default /work/shared/data/tatoeba-deu-eng/deu-eng.zip; ``deu.txt``
is unzipped into a cache directory), English -> German, a joint sentencepiece BPE vocabulary of 8,000.
Without the file the bench falls back to 21,500 pairs of the built-in toy-en-es task and says so.

Configurations (batch 64 sentences, Adam 1e-3, clipping 1.0, dropout 0.2, additive attention, input
feeding, bridge initialisation): small = embeddings 128, hidden 256, bidirectional 1-layer LSTM encoder,
1-layer LSTM decoder; medium = embeddings 256, hidden 512, 2 + 2 layers.

Every measurement runs in its own child process (so OpenMP settings and peak memory are per task):
training (``--steps`` timed steps after ``--warmup``), then beam-5 and greedy decoding of the 1,000
test sentences in batches of 50 (beam alpha 1.0, at most 40 output pieces), like the peer.

FLOPs are counted analytically for each sentence of each timed batch (real tokens only; padding and
elementwise work are not counted), for the forward pass, and tripled for training (the backward pass
of a matrix product costs two products of the same size). For a sentence with s source and t target
tokens (pieces + </s>), hidden H, embeddings E, G gates (LSTM 4, GRU 3, RNN 1), directions D, encoder
output size He = D*H, target vocabulary V:

    encoder     s * sum over layers l and directions of 2*G*H*(I_l + H)   I_0 = E, I_l = He
    keys        s * 2*He*H                                                (additive and general attention)
    bridge      2 * 2*He*(H*L_dec)                                        (h and c, once per sentence)
    decoder     t * sum over layers l of 2*G*H*(I_l + H)                  I_0 = E + H with input feeding
    attention   t * (2*H*H + s*(2*H + 2*He))                              (query projection, scores, context)
    combine     t * 2*(He + H)*H
    output      t * 2*H*V
    training    3 * (sum of the above)

The matmul peak is ``torch.mm`` FLOP/s measured in the same run, at the same thread count, on the
model's own shapes (output layer forward and backward, decoder gates, encoder input projection), before
and after training: the best of those is the "peak" the fraction refers to.

Every rate is given per wall-clock second (what a user waits) and per CPU-second of the measured process
(``time.process_time``; for the peer, read inside its process at the start of each training step). On a
machine shared with other work the wall-clock figures move with the load; with one thread the CPU-second
figures barely do, which makes them the fair comparison between runs made at different moments.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ZIP = Path("/work/shared/data/tatoeba-deu-eng/deu-eng.zip")
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "nmt-studio-bench"  # the prepared corpus and kept runs, made once
CONFIGS = {
    "small": {"embedding_size": 128, "hidden_size": 256, "encoder_layers": 1, "decoder_layers": 1},
    "medium": {"embedding_size": 256, "hidden_size": 512, "encoder_layers": 2, "decoder_layers": 2},
}
TRAIN_PAIRS, DEV_PAIRS, TEST_PAIRS = 20_000, 500, 1_000
DECODE_BATCH, BEAM, BEAM_ALPHA, MAX_OUTPUT = 50, 5, 1.0, 40


# --------------------------------------------------------------------------------------- data
def prepare_corpus(cache: Path, zip_path: Path, seed: int = 1, pairs_file: Path | None = None) -> tuple[Path, str]:
    """A TSV of 21,500 pairs in ``cache`` and a line saying where they came from (the file's own name: the bench
    does not know which language pair a zip or TSV holds). ``pairs_file``: a manythings-style TSV (source TAB
    target ...) used instead of the zip."""
    from nmt_core import corpus, tasks

    out = cache / "pairs.tsv"
    n = TRAIN_PAIRS + DEV_PAIRS + TEST_PAIRS
    if pairs_file is not None or zip_path.is_file():
        if pairs_file is None:
            pairs_file = cache / f"{zip_path.stem}.txt"
            if not pairs_file.is_file():
                with zipfile.ZipFile(zip_path) as z, open(pairs_file, "wb") as f:
                    member = next(name for name in z.namelist() if name.endswith(".txt") and "about" not in name)
                    f.write(z.read(member))
        cleaned, _ = corpus.clean(corpus.read_tsv(pairs_file), min_len=5, max_len=15)
        name = zip_path.name if pairs_file.parent == cache else pairs_file.name
        note = f"{name}: {n} of {len(cleaned)} pairs of 5-15 words, seed {seed}"
    else:
        cleaned, _ = corpus.clean(tasks.generate("toy-en-es", size=n + 2000, seed=seed), min_len=1, max_len=50)
        note = f"FALLBACK: {zip_path} not found; {n} toy-en-es pairs from nmt_core.tasks"
    pick = sorted(random.Random(seed).sample(range(len(cleaned)), min(n, len(cleaned))))
    out.write_text("".join(f"{cleaned.src[i]}\t{cleaned.tgt[i]}\n" for i in pick), encoding="utf-8")
    return out, note


def experiment(config: str, tsv: Path, threads: int, steps: int, warmup: int, device: str):
    from nmt_core.config import ExperimentConfig

    return ExperimentConfig.from_dict({
        "name": f"bench-{config}",
        "data": {"task": None, "corpus": {"format": "tsv", "path": str(tsv)}, "min_len": 1, "max_len": 50,
                 "dev_size": DEV_PAIRS, "test_size": TEST_PAIRS, "seed": 1},
        "tokenizer": {"type": "bpe", "vocab_size": 8000, "joint": True},
        "model": {"cell": "lstm", "bidirectional": True, "attention": "additive", "input_feeding": True,
                  "dropout": 0.2, **CONFIGS[config]},
        "train": {"batch_size": 64, "lr": 1e-3, "clip_norm": 1.0, "max_steps": steps + warmup,
                  "eval_every": 10**7, "log_every": 10**7, "threads": threads, "device": device, "seed": 1},
    })


# --------------------------------------------------------------------------------------- FLOPs
def forward_flops(m, s: int, t: int) -> int:
    """Matrix-product FLOPs of one forward pass over one sentence pair (formula in the module docstring). The
    per-component terms live in ``nmt_core.inspection.cost``, which the studio's Cost X-ray page shares."""
    from nmt_core.inspection.cost import sentence_flops, step_flops

    return sentence_flops(m, s) + t * sum(step_flops(m, s).values())


def matmul_peak(m, batch: int, mean_src: float, mean_tgt: float, seconds: float = 0.4,
                device: str = "cpu") -> dict[str, tuple]:
    """``torch.mm`` GFLOP/s on the model's own shapes (this process's thread setting) on ``device`` (the
    training's: a GPU's peak for a GPU run), per wall-clock second and per CPU-second of this process (the
    latter barely moves when other work shares the cores)."""
    import torch

    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    e, h, v = m.embedding_size, m.hidden_size, m.tgt_vocab_size
    bt, bs = int(batch * mean_tgt), int(batch * mean_src)
    shapes = {"output fwd (BT,H)x(H,V)": (bt, h, v), "output bwd-in (BT,V)x(V,H)": (bt, v, h),
              "output bwd-w (V,BT)x(BT,H)": (v, bt, h), "decoder gates (B,E+2H)x(E+2H,4H)": (batch, e + 2 * h, 4 * h),
              "encoder input (BS,E)x(E,4H)": (bs, e, 4 * h)}
    out = {}
    for name, (a, k, b) in shapes.items():
        x, y = torch.randn(a, k, device=device), torch.randn(k, b, device=device)
        for _ in range(3):
            torch.mm(x, y)
        sync()
        n, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            torch.mm(x, y)
            n += 1
        sync()
        flops = 2 * a * k * b * n / 1e9
        out[name] = (flops / (time.perf_counter() - start), flops / max(time.process_time() - cpu, 1e-9))
    return out


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------- our side
def worker_train(args) -> dict:
    import torch

    from nmt_core.checkpoint import make_payload, save_checkpoint
    from nmt_core.train import Trainer

    cfg = experiment(args.config, Path(args.tsv), args.threads, args.steps, args.warmup, args.device)
    trainer = Trainer(cfg, Path(args.work) / "ours", progress_bar=False)
    m, device, data = trainer.cfg.model, trainer.device, trainer.data
    n_src = sum(len(s) + 1 for s in data.train_src)
    n_tgt = sum(len(t) + 1 for t in data.train_tgt)
    mean_src, mean_tgt = n_src / len(data.train_src), n_tgt / len(data.train_tgt)
    # before the peer starts: nobody pauses this process yet
    peak = matmul_peak(m, 64, mean_src, mean_tgt, device=str(device))
    if args.export:  # the same splits and tokenizer for the peer
        from nmt_core.splits import write_splits

        export = Path(args.export)
        write_splits(data.splits, export)
        (export / "spm.model").write_bytes(data.tokenizers.src.to_bytes())
        tok = data.tokenizers.src
        (export / "vocab.txt").write_text("".join(tok.id_to_piece(i) + "\n" for i in range(4, tok.vocab_size)),
                                          encoding="utf-8")
        (export / "READY").touch()  # the driver starts the peer now
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    batches = trainer._batches()
    trainer.model.train()
    for _ in range(args.warmup):
        _, _, batch, n_tokens = next(batches)
        trainer._train_step(batch, n_tokens)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    src_tok = tgt_tok = flops = 0
    losses = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        _, _, batch, n_tokens = next(batches)
        loss, _ = trainer._train_step(batch, n_tokens)
        losses.append(loss)
        lengths = batch.src_lengths.tolist()
        tgt_lengths = (batch.tgt_out != 0).sum(1).tolist()  # host tensor before the copy: no device sync
        src_tok += sum(lengths)
        tgt_tok += n_tokens
        flops += 3 * sum(forward_flops(m, s, t) for s, t in zip(lengths, tgt_lengths))
    sync()
    end = time.perf_counter()
    seconds, cpu_seconds = end - start, time.process_time() - cpu_start
    # again after training (the best of both is the peak;
    after = matmul_peak(m, 64, mean_src, mean_tgt, device=str(device))
    # per wall-clock second this one reads low if the driver pauses this process while the peer runs)
    peak = {k: (max(peak[k][0], after[k][0]), max(peak[k][1], after[k][1])) for k in peak}
    dev_loss = dev_loss_of(trainer)
    ckpt = Path(args.work) / "ours.pt"
    save_checkpoint(make_payload(trainer.cfg, trainer.model, data.tokenizers, step=args.steps + args.warmup), ckpt)
    best_peak, best_peak_cpu = max(v[0] for v in peak.values()), max(v[1] for v in peak.values())
    return {
        "side": "ours", "config": args.config, "threads": args.threads, "device": str(device),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        "steps": args.steps, "warmup": args.warmup, "seconds": round(seconds, 2),
        "tgt_tokens_per_s": round(tgt_tok / seconds), "src_tgt_tokens_per_s": round((src_tok + tgt_tok) / seconds),
        "sentences_per_s": round(64 * args.steps / seconds, 1),
        "src_tgt_tokens_per_cpu_s": round((src_tok + tgt_tok) / cpu_seconds),
        "train_loss_last": round(float(torch.stack(losses[-20:]).mean()), 4),
        "dev_loss": round(dev_loss, 4), "dev_ppl": round(math.exp(dev_loss), 2),
        "achieved_gflops": round(flops / seconds / 1e9, 2),
        "matmul_gflops": {k: round(x[0], 1) for k, x in peak.items()},
        "matmul_peak_gflops": round(best_peak, 1), "fraction_of_peak": round(flops / seconds / 1e9 / best_peak, 3),
        "achieved_gflops_per_cpu_s": round(flops / cpu_seconds / 1e9, 2),
        "matmul_peak_gflops_per_cpu_s": round(best_peak_cpu, 1),
        "fraction_of_peak_cpu": round(flops / cpu_seconds / 1e9 / best_peak_cpu, 3),
        "flops_per_step": round(flops / args.steps), "src_tgt_ratio": (n_src + n_tgt) / n_tgt,
        "peak_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
                                 else max_rss_mib()),
        "checkpoint": str(ckpt), "vocab": m.tgt_vocab_size, "timed": [start, end], "src_tokens": src_tok,
        "tgt_tokens": tgt_tok, "flops": flops,
    }


def dev_loss_of(trainer) -> float:
    """Mean dev cross-entropy per target token (pieces + </s>): exp of it is the dev perplexity."""
    import torch

    from nmt_core.batching import make_batch, sorted_batches

    model, data = trainer.model, trainer.data
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for index in sorted_batches([len(s) for s in data.dev_src], 64):
            b = make_batch([data.dev_src[i] for i in index], [data.dev_tgt[i] for i in index]).to(trainer.device)
            loss, n = model.loss(b.src, b.src_lengths, b.tgt_in, b.tgt_out)
            total, tokens = total + float(loss), tokens + int(n)
    model.train()
    return total / tokens


def worker_decode(args) -> dict:
    import torch

    from nmt_core import search
    from nmt_core.batching import make_batch, sorted_batches
    from nmt_core.checkpoint import load_checkpoint
    from nmt_core.corpus import read_parallel
    from nmt_core.evaluation import corpus_scores
    from nmt_core.fast_mode import FastMode, FastModels, map_greedy

    FAST_MODES = (FastMode(shortlist=True), FastMode(int8=True), FastMode(int8=True, shortlist=True))  # noqa: N806
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint, args.device)
    model, tok = ckpt.model.eval(), ckpt.tokenizers
    test = read_parallel(Path(args.export) / "test.src", Path(args.export) / "test.tgt")
    sources = [tok.src.encode(s) for s in test.src]
    device = next(model.parameters()).device
    has_beam = hasattr(search, "beam_search")
    out = {"side": "ours", "sentences": len(sources), "beam_search_available": has_beam}
    # Our defaults cap outputs at 2 * source + 5 pieces, clamped here to JoeyNMT's max_output_length. Two
    # beam rows: our exact stopping rule (no live hypothesis can still win under the length penalty, even at
    # the cap) and the heuristic one (none can at its next length), closer to JoeyNMT's (a sentence ends
    # once all k beam slots hold finished hypotheses).
    cap = {"max_ratio": 2.0, "max_len": MAX_OUTPUT}
    modes = {"greedy": lambda b: search.greedy_search(model, b.src, b.src_lengths, **cap)}
    if has_beam:
        def beam(stopping, fast=None):
            def run(b):
                used, kept = (model, None) if fast is None else fast_models.for_batch(fast, b.src)
                found = [r.best.output_ids for r in search.beam_search(
                    used, b.src, b.src_lengths, beam_size=BEAM, length_penalty="gnmt", alpha=BEAM_ALPHA,
                    stopping=stopping, trace=False, **cap)]  # text only, as `translate` and `evaluate` decode
                return found if kept is None else map_greedy(found, kept)
            return run
        modes = {f"beam{BEAM}": beam("exact"), f"beam{BEAM}, heuristic stop": beam("heuristic"), **modes}
        fast_models = bench_fast_models(ckpt, Path(args.export)) if args.fast else FastModels(model)
        for fast in FAST_MODES if args.fast else ():
            if fast.int8 and device.type != "cpu":
                continue  # int8 (fbgemm) is CPU only: FastModeError says so
            modes[f"beam{BEAM}, {fast.label()}"] = beam("exact", fast)
            if fast.int8 and fast.shortlist:
                modes[f"beam{BEAM}, {fast.label()}, heuristic stop"] = beam("heuristic", fast)
        out["device"] = str(device)
    for name, decode in modes.items():
        decode(make_batch(sources[:4]).to(device))  # warm-up
        hyps = [None] * len(sources)
        start, cpu = time.perf_counter(), time.process_time()
        for index in sorted_batches([len(s) for s in sources], DECODE_BATCH):
            for i, ids in zip(index, decode(make_batch([sources[j] for j in index]).to(device))):
                hyps[i] = ids
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        texts = [tok.tgt.decode(h) for h in hyps]
        out[name] = {"seconds": round(seconds, 2), "sentences_per_s": round(len(sources) / seconds, 1),
                     "sentences_per_cpu_s": round(len(sources) / cpu, 1),
                     "mean_output_len": round(sum(map(len, hyps)) / len(hyps), 1),
                     "bleu": corpus_scores(texts, test.tgt)["bleu"]}
    out["peak_memory_mib"] = round(max_rss_mib())
    if device.type == "cuda":
        out["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return out


def bench_fast_models(ckpt, export: Path):
    """Fast mode for the bench model, with a shortlist built from its own training split (as ``python -m nmt_core
    shortlist`` would, default sizes) and handed over as a checkpoint stores it (FastModels checks it on use)."""
    from nmt_core.corpus import read_parallel
    from nmt_core.fast_mode import FastModels
    from nmt_core.shortlist import shortlist_from_text

    train, m = read_parallel(export / "train.src", export / "train.tgt"), ckpt.config.model
    shortlist = shortlist_from_text(ckpt.tokenizers, m.src_vocab_size, m.tgt_vocab_size, train.src, train.tgt)
    return FastModels(ckpt.model.eval(), shortlist.to_payload())


# --------------------------------------------------------------------------------------- the peer
PEER_CONFIG = """\
name: peer
joeynmt_version: "2.3.0"
model_dir: {work}/peer_model
use_cuda: False
fp16: False
random_seed: 1
data:
  train: {data}/train
  dev: {data}/dev
  test: {data}/test
  dataset_type: plain
  sample_dev_subset: -1
  src:
    lang: src
    max_length: 200
    level: bpe
    lowercase: False
    voc_file: {data}/vocab.txt
    tokenizer_type: sentencepiece
    tokenizer_cfg:
      model_file: {data}/spm.model
  trg:
    lang: tgt
    max_length: 200
    level: bpe
    lowercase: False
    voc_file: {data}/vocab.txt
    tokenizer_type: sentencepiece
    tokenizer_cfg:
      model_file: {data}/spm.model
testing:
  n_best: 1
  beam_size: {beam}
  beam_alpha: {alpha}
  batch_size: {decode_batch}
  batch_type: sentence
  max_output_length: {max_output}
  eval_metrics: ["bleu"]
training:
  optimizer: adam
  learning_rate: 0.001
  learning_rate_min: 1.0e-9
  clip_grad_norm: 1.0
  batch_size: 64
  batch_type: sentence
  normalization: tokens
  scheduling: exponential
  decrease_factor: 1.0
  epochs: 1000
  updates: {steps}
  validation_freq: {steps}
  logging_freq: {log_every}
  early_stopping_metric: ppl
  overwrite: True
  shuffle: True
  use_cuda: False
  keep_best_ckpts: 1
  print_valid_sents: []
model:
  initializer: xavier_uniform
  bias_initializer: zeros
  init_gain: 1.0
  embed_initializer: normal
  embed_init_gain: 0.1
  encoder:
    type: recurrent
    rnn_type: lstm
    embeddings:
      embedding_dim: {emb}
      scale: False
    hidden_size: {hidden}
    bidirectional: True
    dropout: 0.2
    num_layers: {enc_layers}
  decoder:
    type: recurrent
    rnn_type: lstm
    embeddings:
      embedding_dim: {emb}
      scale: False
    emb_scale: False
    hidden_size: {hidden}
    dropout: 0.2
    hidden_dropout: 0.2
    num_layers: {dec_layers}
    input_feeding: True
    init_hidden: bridge
    attention: bahdanau
"""

# Runs JoeyNMT's own command line in the peer's interpreter and records, from inside that process, the
# wall and CPU clocks at the start of every training step (with the batch's token counts), the time of each
# ``predict`` call, the parameter count and the peak resident memory. Nothing in JoeyNMT's work changes.
PEER_WRAPPER = """\
import json, resource, runpy, sys, time
out = sys.argv.pop(1)
stats = {"steps": [], "predict": []}
import joeynmt.prediction as P, joeynmt.training as T
train_step = T.TrainManager._train_step
def timed_step(self, batch):
    stats["steps"].append((time.perf_counter(), time.process_time(), int(batch.src_length.sum()),
                           int(batch.ntokens), int(batch.nseqs)))
    stats["parameters"] = sum(p.numel() for p in self.model.parameters())
    return train_step(self, batch)
T.TrainManager._train_step = timed_step
predict = P.predict
def timed_predict(model, data, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = predict(model, data, *args, **kwargs)
    stats["predict"].append((len(data), time.perf_counter() - wall, time.process_time() - cpu))
    return result
P.predict = timed_predict
try:
    runpy.run_module("joeynmt", run_name="__main__")
finally:
    stats["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    open(out, "w").write(json.dumps(stats))
"""


PEER_PYTHON = ROOT / ".peer-venv" / "bin" / "python"


def start_peer_training(args, export: Path) -> subprocess.Popen:
    c = CONFIGS[args.config]
    work = Path(args.work)
    cfg_path = work / "peer.yaml"
    log_every = args.steps + args.warmup  # JoeyNMT needs validation_freq divisible by logging_freq
    cfg_path.write_text(PEER_CONFIG.format(
        work=work, data=export, beam=BEAM, alpha=BEAM_ALPHA, decode_batch=DECODE_BATCH, max_output=MAX_OUTPUT,
        steps=args.steps + args.warmup, log_every=log_every, emb=c["embedding_size"], hidden=c["hidden_size"],
        enc_layers=c["encoder_layers"], dec_layers=c["decoder_layers"]), encoding="utf-8")
    cmd = [str(PEER_PYTHON), "-c", PEER_WRAPPER, str(work / "peer_train.json"), "train", str(cfg_path), "--skip-test"]
    with open(work / "peer_train.log", "w") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=thread_env(args.threads, os.environ),
                                cwd=work)


def collect_peer(args, proc: subprocess.Popen, export: Path, decode: bool, turns=None) -> dict:
    """The peer's training figures (from its own process's step clock), then its decoding."""
    proc.wait()
    work = Path(args.work)
    result = {"side": "peer", "config": args.config, "threads": args.threads}
    train_log = work / "peer_train.log"
    text = train_log.read_text(errors="replace")
    if proc.returncode != 0:
        return {**result, "error": f"joeynmt train failed (exit {proc.returncode}); see {train_log}",
                "log_tail": text[-2000:]}
    stats = json.loads((work / "peer_train.json").read_text())
    marks = stats["steps"][args.warmup:]  # (wall, cpu, src tokens, tgt tokens, sentences) at each step's start
    if len(marks) < 2:
        return {**result, "error": f"too few training steps recorded in {work / 'peer_train.json'}"}
    wall, cpu = running(turns, marks[0][0], marks[-1][0]), marks[-1][1] - marks[0][1]
    src, tgt, sents = (sum(m[k] for m in marks[:-1]) for k in (2, 3, 4))
    ppl = re.findall(r"Evaluation result \(greedy\).*?ppl:\s+([\d.]+)", text)
    result.update(tgt_tokens_per_s=round(tgt / wall), src_tgt_tokens_per_s=round((src + tgt) / wall),
                  sentences_per_s=round(sents / wall, 1), timed_steps=len(marks) - 1,
                  src_tgt_tokens_per_cpu_s=round((src + tgt) / cpu), seconds=round(wall, 2),
                  dev_ppl=float(ppl[-1]) if ppl else None, peak_memory_mib=round(stats["max_rss_kib"] / 1024),
                  parameters=stats.get("parameters"))
    if not decode:
        return result
    return peer_decode(result, work, export, work / "peer.yaml", PEER_PYTHON, thread_env(args.threads, os.environ))


def peer_decode(result: dict, work: Path, export: Path, cfg_path: Path, peer_python: Path, env: dict) -> dict:
    """JoeyNMT's ``test`` on the 1,000 test sentences: beam 5 (the config's), then greedy."""
    wrapper = PEER_WRAPPER
    for name, beam in ((f"beam{BEAM}", BEAM), ("greedy", 1)):
        cfg_path.write_text(re.sub(r"beam_size: \d+", f"beam_size: {beam}", cfg_path.read_text()))
        log_path = work / f"peer_test_{name}.log"
        cmd = [str(peer_python), "-c", wrapper, str(work / f"peer_{name}.json"), "test", str(cfg_path),
               "-o", str(work / f"hyp_{name}")]
        with open(log_path, "w") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
        stats = json.loads((work / f"peer_{name}.json").read_text()) if proc.returncode == 0 else {}
        test_gen = [(wall, cpu) for n, wall, cpu in stats.get("predict", []) if n == TEST_PAIRS]
        if proc.returncode != 0 or not test_gen:
            result[name] = {"error": f"joeynmt test failed (exit {proc.returncode}); see {log_path}"}
            continue
        from nmt_core.corpus import read_parallel
        from nmt_core.evaluation import corpus_scores

        refs = read_parallel(export / "test.src", export / "test.tgt").tgt
        hyp_file = work / f"hyp_{name}.test"
        hyps = hyp_file.read_text(encoding="utf-8").splitlines() if hyp_file.is_file() else []
        wall, cpu = test_gen[-1]
        from nmt_core.tokenizer import Tokenizer

        tok = Tokenizer((export / "spm.model").read_bytes())
        result[name] = {"seconds": round(wall, 2), "sentences_per_s": round(TEST_PAIRS / wall, 1),
                        "mean_output_len": round(sum(len(tok.encode(h)) for h in hyps) / max(len(hyps), 1), 1),
                        "sentences_per_cpu_s": round(TEST_PAIRS / cpu, 1),
                        "bleu": corpus_scores(hyps, refs)["bleu"] if len(hyps) == len(refs) else None,
                        "peak_memory_mib": round(stats["max_rss_kib"] / 1024)}
    return result


# --------------------------------------------------------------------------------------- driver
def thread_env(threads: int, base) -> dict[str, str]:
    return {**base, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def start_worker(kind: str, args, **extra) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--worker", kind, "--config", args.config, "--threads", str(args.threads),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--device", args.device, "--work", args.work]
    cmd += ["--fast"] if getattr(args, "fast", False) else []
    for key, value in extra.items():
        cmd += [f"--{key}", str(value)]
    out = Path(args.work) / f"ours_{kind}"
    return subprocess.Popen(cmd, stdout=open(f"{out}.out", "w"), stderr=open(f"{out}.err", "w"),
                            env=thread_env(args.threads, os.environ))


def worker_result(kind: str, args, proc: subprocess.Popen) -> dict:
    out = Path(args.work) / f"ours_{kind}"
    if proc.wait() != 0:
        raise SystemExit(f"{kind} worker failed:\n{Path(f'{out}.err').read_text()[-3000:]}")
    return json.loads(Path(f"{out}.out").read_text().strip().splitlines()[-1])


def run_worker(kind: str, args, **extra) -> dict:
    return worker_result(kind, args, start_worker(kind, args, **extra))


def take_turns(procs: list[subprocess.Popen], slice_s: float = 2.0) -> dict[int, list[tuple[float, float]]]:
    """Run the processes by turns of ``slice_s`` seconds (SIGSTOP / SIGCONT) until all have exited.

    Both trainings then meet the same machine: on a shared (virtual) machine the speed of one core
    depends on what runs on the others and on the host, which drifts over minutes; measured one after
    the other, two equal programs can differ by 20-40%. Taking turns every few seconds gives both the
    same conditions. Returns, per pid, the ``time.perf_counter`` intervals in which it ran (the clock is
    system-wide on Linux, so the processes' own step times can be compared with them: ``running``)."""
    alive, turns = list(procs), {proc.pid: [] for proc in procs}
    try:
        while alive:
            for proc in list(alive):
                if proc.poll() is not None:
                    alive.remove(proc)
                    continue
                for other in alive:
                    if other is not proc:
                        other.send_signal(signal.SIGSTOP)
                began = time.perf_counter()
                proc.send_signal(signal.SIGCONT)
                while time.perf_counter() - began < slice_s and proc.poll() is None:
                    time.sleep(0.02)
                turns[proc.pid].append((began, time.perf_counter()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
    return turns


def running(turns: list[tuple[float, float]] | None, start: float, end: float) -> float:
    """Seconds of [start, end] (``time.perf_counter``) in which the process ran: all of it without turns."""
    if turns is None:
        return end - start
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in turns)


def report(note: str, ours: dict, dec: dict, peer: dict | None, load: tuple[float, float]) -> None:
    print(f"data: {note}")
    if "threads" not in ours:  # --decode-from: decoding only
        report_decoding(dec, peer)
        return
    print(f"load average before/after: {load[0]:.2f} / {load[1]:.2f}; {ours['threads']} thread(s); "
          f"device {ours['device']}; {ours['parameters'] / 1e6:.2f} M parameters, vocabulary {ours['vocab']}")
    print("matmul GFLOP/s on the model's shapes: " + ", ".join(f"{k} {v}" for k, v in ours["matmul_gflops"].items()))
    rows = [("training tgt tokens/s", "tgt_tokens_per_s"), ("training src+tgt tokens/s", "src_tgt_tokens_per_s"),
            ("  per CPU-second (load-robust)", "src_tgt_tokens_per_cpu_s"),
            ("training sentences/s", "sentences_per_s"), ("dev perplexity after the run", "dev_ppl"),
            ("peak memory, training (MiB)", "peak_memory_mib")]
    print(f"{'':34s} {'ours':>10s} {'JoeyNMT':>10s} {'ratio':>7s}")
    for label, key in rows:
        a, b = ours.get(key), (peer or {}).get(key)
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else ""
        print(f"{label:34s} {a!s:>10s} {b if b is not None else '-':>10} {ratio:>7s}")
    report_decoding(dec, peer)
    print(f"achieved {ours['achieved_gflops']} GFLOP/s = {100 * ours['fraction_of_peak']:.1f}% of the measured "
          f"matmul peak ({ours['matmul_peak_gflops']} GFLOP/s); {ours['flops_per_step'] / 1e9:.2f} GFLOP per step")
    print(f"per CPU-second: {ours['achieved_gflops_per_cpu_s']} GFLOP = {100 * ours['fraction_of_peak_cpu']:.1f}% of "
          f"the matmul peak per CPU-second ({ours['matmul_peak_gflops_per_cpu_s']} GFLOP)")
    if peer and peer.get("error"):
        print(f"peer: {peer['error']}\n{peer.get('log_tail', '')}")


def report_decoding(dec: dict, peer: dict | None) -> None:
    fast = [m for m in dec if m.startswith(f"beam{BEAM}, ") and m != f"beam{BEAM}, heuristic stop"]
    for mode in (f"beam{BEAM}", f"beam{BEAM}, heuristic stop", *fast, "greedy"):
        if mode not in dec and mode not in (peer or {}):
            continue
        a, b = dec.get(mode, {}), (peer or {}).get(mode.split(",")[0], {})
        sa, sb = a.get("sentences_per_s"), b.get("sentences_per_s")
        ratio = f"{sa / sb:.2f}" if sa and sb else ""
        print(f"{'decoding ' + mode + ' sentences/s':34s} {sa!s:>10s} {sb if sb else '-'!s:>10} {ratio:>7s}")
        ca, cb = a.get("sentences_per_cpu_s"), b.get("sentences_per_cpu_s")
        ratio = f"{ca / cb:.2f}" if ca and cb else ""
        print(f"{'  per CPU-second (load-robust)':34s} {ca!s:>10s} {cb if cb else '-'!s:>10} {ratio:>7s}")
        print(f"{'  test BLEU, ' + mode:34s} {a.get('bleu')!s:>10s} {b.get('bleu', '-')!s:>10}")
        print(f"{'  mean output length (pieces)':34s} {a.get('mean_output_len')!s:>10s} "
              f"{b.get('mean_output_len', '-')!s:>10}")
    a, b = dec.get("peak_memory_mib"), (peer or {}).get(f"beam{BEAM}", {}).get("peak_memory_mib")
    if a or b:
        print(f"{'peak memory, decoding (MiB)':34s} {a!s:>10s} {b if b else '-'!s:>10}")
    if dec.get("peak_gpu_memory_mib"):
        print(f"{'peak GPU memory, decoding (MiB)':34s} {dec['peak_gpu_memory_mib']!s:>10s}  ({dec.get('device')})")


def decode_only(args) -> None:
    """Both toolkits decode the test set with the models a ``--keep`` run left in ``args.decode_from``:
    trained as long as wanted once, decoded as often as wanted."""
    work = args.decode_from.resolve()
    args.work, export = str(work), work / "data"
    load0 = os.getloadavg()[0]
    dec = run_worker("decode", args, checkpoint=work / "ours.pt", export=export)
    peer = None
    if args.peer:
        peer = peer_decode({"side": "peer"}, work, export, work / "peer.yaml", PEER_PYTHON,
                           thread_env(args.threads, os.environ))
    load = (load0, os.getloadavg()[0])
    print(f"decoding only, {args.threads} thread(s), models in {work}; load average {load[0]:.2f} / {load[1]:.2f}")
    report("the kept run's test split", {}, dec, peer, load)
    if args.json:
        Path(args.json).write_text(json.dumps({"load_average": load, "decode": dec, "peer": peer}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="small")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both sides (default 1)")
    parser.add_argument("--steps", type=int, default=200, help="timed training steps (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (default 10)")
    parser.add_argument("--peer", action="store_true", help="also run JoeyNMT 2.3.0 from .peer-venv")
    parser.add_argument("--no-decode", action="store_true", help="skip the decoding measurements")
    parser.add_argument("--fast", action="store_true",
                        help="also decode in fast mode (shortlist, int8, both; docs/benchmarks.md#fast-mode)")
    parser.add_argument("--device", default="cpu", help="our side's device (the peer runs on CPU)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP, help="a manythings.org zip (default the shared one)")
    parser.add_argument("--corpus", type=Path, help="a TSV of pairs (source TAB target ...) instead of --zip")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", help="also write all figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, checkpoints)")
    parser.add_argument("--decode-from", type=Path, metavar="WORK",
                        help="decode only, with both models of a --keep run's work directory")
    parser.add_argument("--worker", choices=("train", "decode"), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--tsv", help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        figures = worker_train(args) if args.worker == "train" else worker_decode(args)
        print(json.dumps(figures))
        return
    if args.decode_from:
        decode_only(args)
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    tsv, note = prepare_corpus(args.cache, args.zip, pairs_file=args.corpus)
    work = Path(tempfile.mkdtemp(prefix=f"tp-{args.config}-", dir=args.cache))
    args.work = str(work)
    export = work / "data"
    try:
        loads = {"start": os.getloadavg()[0]}
        train = start_worker("train", args, tsv=tsv, export=export)
        peer_train = None
        if args.peer and PEER_PYTHON.is_file():
            while not (export / "READY").exists() and train.poll() is None:
                time.sleep(0.2)
            if train.poll() is None or train.returncode == 0:
                peer_train = start_peer_training(args, export)
                turns = take_turns([train, peer_train])  # both trainings in the same conditions
        ours = worker_result("train", args, train)
        if peer_train is not None:  # rates per second of running time (the process was paused by turns)
            seconds = running(turns[train.pid], *ours["timed"])
            ours.update(seconds=round(seconds, 2), tgt_tokens_per_s=round(ours["tgt_tokens"] / seconds),
                        src_tgt_tokens_per_s=round((ours["src_tokens"] + ours["tgt_tokens"]) / seconds),
                        sentences_per_s=round(64 * args.steps / seconds, 1),
                        achieved_gflops=round(ours["flops"] / seconds / 1e9, 2),
                        fraction_of_peak=round(ours["flops"] / seconds / 1e9 / ours["matmul_peak_gflops"], 3),
                        took_turns_with_peer=True)
        loads["after training"] = os.getloadavg()[0]
        dec = {} if args.no_decode else run_worker("decode", args, checkpoint=ours["checkpoint"], export=export)
        loads["after ours decode"] = os.getloadavg()[0]
        peer = None
        if args.peer:
            peer = (collect_peer(args, peer_train, export, not args.no_decode, turns[peer_train.pid]) if peer_train
                    else {"side": "peer", "error": f"{PEER_PYTHON} not found: see docs/benchmarks.md"})
        loads["after peer"] = os.getloadavg()[0]
        print("1-minute load average: " + ", ".join(f"{k} {v:.2f}" for k, v in loads.items()))
        load = (load0, os.getloadavg()[0])
        report(note, ours, dec, peer, load)
        if args.json:
            Path(args.json).write_text(json.dumps({"data": note, "load_average": load, "loads": loads, "ours": ours,
                                                   "decode": dec, "peer": peer}, indent=2))
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
