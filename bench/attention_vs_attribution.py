"""How often attention and a gradient attribution agree, measured on held-out sentences of a shipped model.

For each of the first ``--sentences`` pairs of the checkpoint's stored test sample (held out from training), the
model translates greedily, then every target token of its own translation is explained twice: by its attention
row and by integrated gradients on the source embeddings (``nmt_core.inspection.attribution``). Reported over
all target tokens: how often both rank the same source token first, the mean Spearman correlation of the two
rows, the mean completeness gap of integrated gradients, and, from coverage, how many source tokens were never
attended (total attention < 0.25) or attended again and again (> 1.75). The numbers quoted in
docs/explainers.md come from this script.

Run: ``python bench/attention_vs_attribution.py [--checkpoint checkpoints/tatoeba-en-de.pt] [--sentences 200]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nmt_core.checkpoint import load_checkpoint  # noqa: E402
from nmt_core.inspection.attribution import METHODS, attribution, coverage  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "tatoeba-en-de.pt"))
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--steps", type=int, default=16, help="integrated gradients' path steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint, "cpu")
    sources = list((ckpt.extra.get("test_sample") or {}).get("src", []))[: args.sentences]
    if not sources:
        raise SystemExit(f"{args.checkpoint} carries no test sample")
    same, spearman, gaps, never, again, source_tokens = [], [], [], 0, 0, 0
    started = time.perf_counter()
    for src in sources:
        result = attribution(ckpt.model, ckpt.tokenizers, src, method=METHODS[1], steps=args.steps)
        if result.attention is None:
            raise SystemExit("this model has no attention: nothing to compare")
        table = result.agreement()
        same += table.same_top.tolist()
        spearman += table.spearman.dropna().tolist()
        gaps += np.abs(result.completeness_gap).tolist()
        flags = coverage(result.attention, result.src_pieces)
        never += int(flags.flag.str.startswith("never").sum())
        again += int(flags.flag.str.startswith("attended again").sum())
        source_tokens += int((flags.token != "</s>").sum())
    summary = {"checkpoint": Path(args.checkpoint).name, "sentences": len(sources), "target_tokens": len(same),
               "same_top_share": round(float(np.mean(same)), 3), "spearman_mean": round(float(np.mean(spearman)), 3),
               "spearman_median": round(float(np.median(spearman)), 3),
               "completeness_gap_mean": round(float(np.mean(gaps)), 4), "source_tokens": source_tokens,
               "never_attended": never, "attended_again": again, "ig_steps": args.steps,
               "seconds_per_sentence": round((time.perf_counter() - started) / len(sources), 3)}
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
