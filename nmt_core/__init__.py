"""NMT Studio core: recurrent seq2seq translation you can train, decode and look inside.

The public API, importable from the package (loaded lazily, so ``import nmt_core.config`` stays cheap)::

    from nmt_core import load_config, train, load_checkpoint, Translator
    cfg = load_config("configs/toy-en-es.yaml")
    result = train(cfg, "runs/toy")                       # run directory: metrics, status, checkpoints
    translator = Translator.from_path("checkpoints/toy-en-es.pt")
    translator.translate(["the red car is fast"])          # greedy; beam_size=5 for beam search
    translator.beam_search("the red car is fast").trace.to_frame()  # the search tree as a DataFrame

Inspection (attention, gates, gradient flow, interventions) lives in ``nmt_core.inspection``, the labs in
``nmt_core.labs`` and every chart in ``nmt_core.viz``.
"""

from importlib import import_module

_EXPORTS = {
    "ExperimentConfig": "config", "ModelConfig": "config", "load_config": "config",
    "Seq2Seq": "model", "Intervention": "model",
    "load_checkpoint": "checkpoint", "CheckpointError": "checkpoint",
    "train": "train", "Trainer": "train",
    "Translator": "translator", "corpus_scores": "translator",
    "beam_search": "search", "greedy_search": "search", "sample": "sampling", "score_translation": "scoring",
    "Tokenizer": "tokenizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'nmt_core' has no attribute {name!r}")
