"""Training: teacher forcing, Adam, clipping, validation with BLEU, atomic checkpoints, clean stops.

``train(cfg, run_dir)`` is the whole story; the CLI (``python -m nmt_core train``), the studio's
background process and the tests all call it. The loop keeps no host synchronisation per step: loss
and gradient norms stay on the device and are read once per ``log_every`` steps, which is also where
the NaN guard looks (a non-finite loss stops the run and keeps the last good checkpoint).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm import tqdm

from . import distributed
from .batching import bucketed_batches, make_batch
from .checkpoint import checkpoint_from_payload, make_payload, read_payload, save_checkpoint
from .config import ExperimentConfig
from .data import build_model, prepare_data
from .device import autocast, pick_device
from .evaluation import dev_bleu, validate
from .optim import make_optimizer, make_scheduler
from .runs import RunDir
from .snapshots import SNAPSHOT_BLEU_SENTENCES, save_snapshot, snapshot_steps
from .threads import ThreadGovernor


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, unusable data, ...); the message is for the user."""


# --------------------------------------------------------------------------------------- training
@dataclass
class Progress:
    """Where training is; saved in ``last.pt`` so a resumed run continues exactly here."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_bleu: float = -1.0
    bad_validations: int = 0
    elapsed_s: float = 0.0
    lr_scale: float = 1.0  # halved on each dev-BLEU plateau (lr_schedule: plateau)
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TrainResult:
    run_dir: Path
    state: str  # finished | stopped | failed
    message: str
    step: int
    best_bleu: float
    last_validation: dict[str, Any] | None


class Trainer:
    """Owns one run: model, optimizer, data, run directory. ``run()`` trains until a stop condition."""

    def __init__(self, cfg: ExperimentConfig, run_dir: str | Path, *, resume: bool = False,
                 device: str | None = None, progress_bar: bool = True,
                 should_stop: Callable[[], bool] | None = None,
                 on_log: Callable[[dict[str, Any]], None] | None = None):
        self.run = RunDir(run_dir).create()
        self.should_stop, self.on_log, self.progress_bar = should_stop, on_log, progress_bar
        payload = None
        if resume:
            if not self.run.last_checkpoint.exists():
                raise TrainingError(f"cannot resume: {self.run.last_checkpoint} does not exist")
            payload = read_payload(self.run.last_checkpoint)
            # Data, tokenizer and model must be the run's own (the weights fit nothing else); the train
            # section comes from the caller, so a resumed run can be given more steps or time.
            saved = ExperimentConfig.from_dict(payload["config"])
            _check_resumable(saved, cfg)
            saved.train = cfg.train
            cfg = saved
        self.cfg = cfg
        self.threads = ThreadGovernor.for_setting(cfg.train.threads)  # fewer while other work takes the cores
        # [distributed] under torchrun: join the process group; each rank gets its own GPU (no-op otherwise)
        self.world, self.device = distributed.setup(pick_device(device or cfg.train.device))
        self.progress_bar = progress_bar and self.world.is_main
        torch.manual_seed(cfg.train.seed)
        if payload is not None:
            restored = checkpoint_from_payload(payload, self.run.last_checkpoint, self.device)
            self.data = prepare_data(cfg, restored.tokenizers)
            self.model = restored.model
        else:
            self.data = prepare_data(cfg) if self.world.is_main else None
            if self.world.enabled:  # [distributed] every rank encodes with rank 0's tokenizers
                tokenizers = distributed.share_tokenizers(self.world, self.data and self.data.tokenizers)
                self.data = self.data or prepare_data(cfg, tokenizers)
            self.model = build_model(cfg, self.data.tokenizers).to(self.device)
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        # The loss function of the training step: model.loss, optionally compiled, or its DDP wrapper.
        self.loss_fn = distributed.wrap_loss(self.model, self.world, self.device)
        if cfg.train.compile:
            self.loss_fn = torch.compile(self.loss_fn, dynamic=True)
        self.progress = Progress()
        self._elapsed_before, self._started = 0.0, time.time()
        self.scheduler = make_scheduler(self.optimizer, cfg, self._fraction_done, lambda: self.progress.lr_scale)
        if payload is not None:
            self._restore(payload["training_state"])
        if self.world.is_main:
            self.run.config_file.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")

    def _restore(self, state: dict[str, Any] | None) -> None:
        if not state:
            raise TrainingError(f"{self.run.last_checkpoint} holds no training state to resume from")
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.progress = Progress(**state["progress"])
        torch.set_rng_state(state["rng"])
        # The resumed run uses the learning rate it was given (config.yaml records it): the optimizer's saved
        # state carries the old one, so set it where the scheduler reads it.
        lr = self.cfg.train.lr
        self.scheduler.base_lrs = [lr for _ in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["initial_lr"] = lr
            group["lr"] = lr * self.scheduler.lr_lambdas[0](self.scheduler.last_epoch)
        if self.world.is_main:
            self.run.mark_resume(self.progress.step)  # the steps after last.pt are trained again

    def _training_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "progress": vars(self.progress).copy(), "rng": torch.get_rng_state()}

    def _fraction_done(self, step: int) -> float:
        """How far training is (0..1): by steps, or by the clock when the time budget ends it sooner."""
        t = self.cfg.train
        done = step / max(1, t.max_steps)
        if t.time_budget_s:
            done = max(done, self._elapsed(self._started) / t.time_budget_s)
        return min(1.0, done)

    def _elapsed(self, started: float) -> float:
        """Training seconds so far, across resumes."""
        return self._elapsed_before + (time.time() - started)

    # ---- stop conditions
    def _stop_reason(self, started: float, *, external: bool = True) -> str | None:
        """Why training should stop now, or None. ``external=False`` checks only what every rank of a
        distributed job sees alike (steps, epochs, patience), not the clock or the STOP file."""
        t, p = self.cfg.train, self.progress
        if p.step >= t.max_steps:
            return f"reached max_steps={t.max_steps}"
        if p.epoch >= t.max_epochs:
            return f"reached max_epochs={t.max_epochs}"
        if t.patience and p.bad_validations >= t.patience:
            return f"early stopping: no dev BLEU gain in {t.patience} validations"
        if not external:
            return None
        if t.time_budget_s is not None and self._elapsed(started) >= t.time_budget_s:
            return f"time budget of {t.time_budget_s:g}s used"
        if self.run.stop_requested() or (self.should_stop is not None and self.should_stop()):
            return "stopped on request"
        return None

    def _agreed_stop_reason(self, started: float) -> str | None:
        """[distributed] Every rank must stop at the same step: rank 0 reads the clock and the STOP file
        at logging steps and broadcasts its answer (one process: simply ``_stop_reason``)."""
        if not self.world.enabled:
            return self._stop_reason(started)
        if self.progress.step % self.cfg.train.log_every == 0:
            return self.world.broadcast(self._stop_reason(started))
        return self._stop_reason(started, external=False)

    def _batches(self):
        """Yield (position, batches in epoch, batch, target tokens) from the saved position on, epoch after
        epoch. The token count is the global batch's (pieces + </s>), counted on the host: the loss
        normaliser, with no device sync. [distributed] each rank's batch is its share of the global one."""
        d, world = self.data, self.world
        src_len, tgt_len = [len(s) for s in d.train_src], [len(t) for t in d.train_tgt]
        pin = self.device.type == "cuda"  # page-locked host memory lets the copy to the GPU run asynchronously
        while True:
            order = world.usable(bucketed_batches(src_len, tgt_len, self.cfg.train.batch_size,
                                                  seed=self.cfg.train.seed, epoch=self.progress.epoch,
                                                  max_tokens=self.cfg.train.batch_tokens))
            for pos in range(self.progress.batch_in_epoch, len(order)):
                n_tokens = sum(tgt_len[i] + 1 for i in order[pos])
                index = world.shard(order[pos])
                batch = make_batch([d.train_src[i] for i in index], [d.train_tgt[i] for i in index], index)
                yield pos, len(order), (batch.pin_memory() if pin else batch), n_tokens

    def _train_step(self, batch, n_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        batch = batch.to(self.device, non_blocking=True)
        with autocast(self.device, self.cfg.train.amp):
            loss_sum, _ = self.loss_fn(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out,
                                       self.cfg.train.label_smoothing, self.cfg.train.tbptt)
        loss = loss_sum / max(n_tokens, 1)  # mean over the global batch's target tokens
        self.optimizer.zero_grad(set_to_none=True)
        # [distributed] DDP averages gradients over ranks; scaling by world_size turns that into the sum of
        # the ranks' shares, i.e. exactly the gradient of the global mean (world_size is 1 otherwise).
        (loss * self.world.world_size if self.world.enabled else loss).backward()
        clip = self.cfg.train.clip_norm
        # The norm *before* clipping is what tells exploding gradients apart; clip_grad_norm_ returns it.
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip if clip else float("inf"))
        self.optimizer.step()
        self.scheduler.step()
        return loss.detach(), norm.detach()

    def train(self) -> TrainResult:
        self.model.train()
        p, t = self.progress, self.cfg.train
        started, window = time.time(), _Window()
        self._started = started
        self._elapsed_before = p.elapsed_s  # training seconds of earlier (resumed-from) processes
        # A STOP file is never cleared here: a stop asked for before this process began (the studio's Stop right
        # after Start) must win. Whoever starts a run clears a stale one first (jobs.py, or the CLI in a terminal).
        self._status("running", "training")
        bar = tqdm(total=t.max_steps, initial=p.step, disable=not self.progress_bar, file=sys.stderr,
                   mininterval=1.0, desc=self.cfg.name, unit="step")
        last_val, reason = None, self._agreed_stop_reason(started)
        self._snapshot_steps = set(snapshot_steps(t.snapshots)) if self.world.is_main else set()
        batches = self._batches()
        try:
            while reason is None:
                pos, n_batches, batch, n_tokens = next(batches)
                loss, norm = self._train_step(batch, n_tokens)
                self.threads.update()
                p.step += 1
                p.batch_in_epoch = pos + 1
                if p.batch_in_epoch == n_batches:  # the generator starts the next epoch on its next call
                    p.epoch, p.batch_in_epoch = p.epoch + 1, 0
                window.add(loss, norm, n_tokens, batch)
                bar.update(1)
                if p.step % t.log_every == 0:
                    self._log_train(window, started, bar)
                    window = _Window()
                if p.step % t.eval_every == 0:
                    last_val = self._validate_and_save(started)
                if p.step in self._snapshot_steps:
                    self._snapshot(started)
                reason = self._agreed_stop_reason(started)
            if window.steps:
                self._log_train(window, started, bar)
            if last_val is None or last_val["step"] != p.step:
                last_val = self._validate_and_save(started)
        except TrainingError as err:
            self._status("failed", str(err))
            return TrainResult(self.run.path, "failed", str(err), p.step, p.best_bleu, last_val)
        finally:
            bar.close()
        state = "stopped" if reason == "stopped on request" else "finished"
        if self.world.is_main:
            self.run.clear_stop()
        self._status(state, reason)
        return TrainResult(self.run.path, state, reason, p.step, p.best_bleu, last_val)

    def _log_train(self, window: _Window, started: float, bar) -> None:
        record = window.summary(self.world)  # one host sync (and, distributed, one all-reduce) per interval
        self._check_divergence(record["loss"])
        record.update(kind="train", step=self.progress.step, epoch=self.progress.epoch,
                      lr=self.optimizer.param_groups[0]["lr"], elapsed_s=round(self._elapsed(started), 2),
                      threads=self.threads.threads if self.device.type == "cpu" else None)
        self.progress.history.append(record)
        if not self.world.is_main:
            return
        self.run.append_metrics(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", gnorm=f"{record['grad_norm']:.2f}")
        self._status("running", "training")
        if self.on_log:
            self.on_log(record)

    def _kept(self) -> str:
        """What is left after a failure, said truthfully."""
        if self.run.last_checkpoint.exists():
            return "the last good checkpoint (last.pt) is kept"
        return "no checkpoint had been saved yet"

    def _check_divergence(self, loss: float) -> None:
        """A non-finite loss, or one an order of magnitude above a uniform guess over the vocabulary (where every
        fresh model starts), or above both the best seen so far and that guess, is divergence: a failure, never a
        "finished" run with a useless model."""
        chance = math.log(max(2, self.cfg.model.tgt_vocab_size))  # the loss of guessing uniformly
        lowest = self._lowest_loss = min(getattr(self, "_lowest_loss", math.inf), loss)
        if not math.isfinite(loss):
            why = f"non-finite loss ({loss})"
        elif loss > 10 * chance or (loss > 10 * lowest and loss > chance):
            why = f"the loss grew from {lowest:.3g} to {loss:.3g} (a uniform guess scores {chance:.3g})"
        else:
            return
        raise TrainingError(f"training diverged near step {self.progress.step}: {why}; {self._kept()}. Try a "
                            f"lower learning rate (now {self.optimizer.param_groups[0]['lr']:.3g}) or gradient "
                            "clipping.")

    def _validate_and_save(self, started: float) -> dict[str, Any]:
        p = self.progress
        record = None
        if self.world.is_main:  # [distributed] rank 0 validates; every rank applies its result below
            record = {"kind": "dev", "step": p.step, "epoch": p.epoch,
                      **validate(self.model, self.data, self.cfg, self.device)}
        record = self.world.broadcast(record)
        if not math.isfinite(record["dev_loss"]):
            raise TrainingError(f"non-finite dev loss at step {p.step}: training stopped; {self._kept()}")
        p.elapsed_s = self._elapsed(started)  # saved with the checkpoint, so resumed runs keep counting
        record["elapsed_s"] = round(p.elapsed_s, 2)
        improved = record["bleu"] > p.best_bleu
        if improved:
            p.best_bleu, p.bad_validations = record["bleu"], 0
        else:
            p.bad_validations += 1
            if self.cfg.train.lr_schedule == "plateau":
                p.lr_scale *= 0.5  # the scheduler applies it from the next step on (it owns the lr)
                for group in self.optimizer.param_groups:
                    group["lr"] *= 0.5
        p.history.append({k: v for k, v in record.items() if k != "samples"})
        if self.world.is_main:
            self.run.append_metrics(record)
            self._save(record, improved)
            if self.on_log:
                self.on_log(record)
        self.world.barrier()  # [distributed] nobody runs ahead while rank 0 writes the checkpoint
        return record

    def _snapshot(self, started: float) -> None:
        """Keep the weights at this step for the training replay, with a quick dev BLEU (``snapshots.py``)."""
        began = time.time()
        scores, _, _ = dev_bleu(self.model, self.data, self.cfg, self.device, SNAPSHOT_BLEU_SENTENCES)
        trained = [r for r in self.progress.history if r.get("kind") == "train"]
        metrics = {"step": self.progress.step, "elapsed_s": round(self._elapsed(started), 2),
                   "train_loss": trained[-1]["loss"] if trained else None, "dev_bleu": scores["bleu"],
                   "dev_bleu_sentences": scores["sentences"]}
        try:
            save_snapshot(self.run.path, self.cfg, self.model, self.data.tokenizers, self.progress.step,
                          metrics | {"snapshot_s": round(time.time() - began, 2)})
        except OSError as err:
            raise TrainingError(f"could not save a snapshot in {self.run.path}: {err}") from None

    def _save(self, record: dict[str, Any], improved: bool) -> None:
        metrics = {k: record[k] for k in ("bleu", "chrf", "dev_loss", "dev_ppl")} | {"data": self.data.report}
        common = dict(step=self.progress.step, metrics=metrics, history=self.progress.history)
        try:
            if improved:
                save_checkpoint(make_payload(self.cfg, self.model, self.data.tokenizers, **common),
                                self.run.best_checkpoint)
            save_checkpoint(make_payload(self.cfg, self.model, self.data.tokenizers, **common,
                                         training_state=self._training_state()), self.run.last_checkpoint)
        except OSError as err:
            raise TrainingError(f"could not save a checkpoint in {self.run.path}: {err}") from None

    def _status(self, state: str, message: str) -> None:
        if not self.world.is_main:
            return
        p = self.progress
        self.run.write_status(state, message=message, step=p.step, max_steps=self.cfg.train.max_steps,
                              epoch=p.epoch, best_bleu=p.best_bleu, device=str(self.device), name=self.cfg.name)


#: Train settings that decide the order of the data: a resumed run must keep them, or "continue exactly where it
#: stopped" would be false.
FIXED_ON_RESUME = ("batch_size", "batch_tokens", "seed")


def _check_resumable(saved: ExperimentConfig, asked: ExperimentConfig) -> None:
    """Refuse a resume that would silently train something else than asked: changed data-order settings."""
    for key in FIXED_ON_RESUME:
        before, now = getattr(saved.train, key), getattr(asked.train, key)
        if before != now:
            raise TrainingError(f"cannot resume with train.{key}={now!r}: the run was trained with {before!r}, "
                                "which fixes its data order; keep it, or start a new run")


class _Window:
    """Per-step tensors collected between two log lines, read from the device once."""

    def __init__(self):
        self.losses, self.norms = [], []
        self.src_tokens, self.tgt_tokens, self.steps, self.started = 0, 0, 0, time.time()

    def add(self, loss, norm, n_tokens: int, batch) -> None:
        self.losses.append(loss)
        self.norms.append(norm)
        self.tgt_tokens += n_tokens  # the global batch's
        self.src_tokens += int(batch.src_lengths.sum())  # this rank's (lengths live on the host)
        self.steps += 1

    def summary(self, world: distributed.World) -> dict[str, Any]:
        # [distributed] each rank's loss is its share of the global mean, so the sum over ranks is the
        # global loss; source tokens are summed too. Gradient norms are identical on every rank.
        local = torch.cat([torch.stack(self.losses).float(), self.losses[0].new_tensor([self.src_tokens]).float()])
        local = world.sum(local).cpu()
        loss, src_tokens, norms = float(local[:-1].mean()), int(local[-1]), torch.stack(self.norms).float()
        seconds = max(time.time() - self.started, 1e-9)
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0)) if math.isfinite(loss) else float("nan"),
                "grad_norm": float(norms.mean()), "grad_norm_max": float(norms.max()),
                "src_tokens_per_s": round(src_tokens / seconds, 1),
                "tgt_tokens_per_s": round(self.tgt_tokens / seconds, 1)}


def train(cfg: ExperimentConfig, run_dir: str | Path, **kwargs: Any) -> TrainResult:
    """Train ``cfg`` in ``run_dir`` (see ``Trainer`` for keyword options such as ``resume``)."""
    return Trainer(cfg, run_dir, **kwargs).train()
