"""A class on one server: what one interaction costs the server, and how long 30 students wait.

    python scripts/class_load.py --students 30 --rounds 2 --max-seconds 900 [--json out.json]

Starts ``streamlit run app.py`` on 127.0.0.1 only (a free port) with the shipped checkpoints (default model
``--model``, tatoeba-en-de) and an empty runs folder, and drives headless Chromium (Debian's, never
``playwright install``). Two measurements:

1. *Server CPU per interaction*, one student at a time: on Translate, Attention, Gates and Gradient flow, type a
   sentence nobody has typed (a cache miss) and then, from a second browser session, the same sentence (what a
   class does with the example chips: a cache hit). The figure is the server process's own CPU time
   (``/proc/PID/stat`` utime + stime) from pressing Ctrl+Enter until the page is idle again; the browsers run in
   other processes, so their CPU is excluded.
2. *The class at once*: ``--students`` browser sessions open Translate (their first load is timed too), then,
   all at the same moment, each types one of ``--distinct`` example sentences (student i takes example
   i mod distinct, as a class does with the chips) and waits until *its own* translation is shown (checked
   against the offline translation: no session may show another's). Repeated for ``--rounds`` rounds with
   fresh examples. Reported: median, p95 and max seconds to see the translation, and the server's CPU seconds
   per interaction over the round.

Bounded: at most 60 students, 5 rounds, ``--max-seconds`` for everything; loopback only. Prints one line per
measurement and a JSON summary (``--json`` also writes it with every student's row).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from load_sessions import CHROME_ARGS, CHROMIUM, exceptions, settle, start_server, stop_server  # noqa: E402

MAX_STUDENTS, MAX_ROUNDS = 60, 5
PAGES = {"Translate": "Translate & beam search", "Attention": "Attention", "Gates": "Gates",
         "Gradients": "Gradient flow"}
TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def sentence_pool(checkpoint: Path) -> list[str]:
    """The model's example chips first (what a class types), then its stored test sentences of 5+ words."""
    from nmt_core.checkpoint import load_checkpoint

    extra = load_checkpoint(checkpoint, "cpu").extra
    tests = [s for s in (extra.get("test_sample") or {}).get("src", []) if len(s.split()) >= 5]
    return list(dict.fromkeys([*extra.get("examples", []), *tests]))


def expected_translations(checkpoint: Path, sentences: list[str]) -> dict[str, str]:
    """What the Translate page shows with its default settings (beam 5, no penalty, 5-best), computed offline."""
    from nmt_core.translator import Translator

    tr = Translator.from_path(checkpoint, "cpu")
    return {s: tr.beam_search(s, beam_size=5, nbest=5).best.text for s in sentences}


async def open_page(browser, url: str, page_name: str):
    from playwright.async_api import expect

    ctx = await browser.new_context(viewport={"width": 1300, "height": 1100})
    page = await ctx.new_page()
    page.set_default_timeout(240_000)
    started = time.perf_counter()
    await page.goto(f"{url}/{page_name}")
    await expect(page.get_by_role("heading", name=PAGES[page_name])).to_be_visible()
    await settle(page)
    return ctx, page, time.perf_counter() - started


async def type_sentence(page, sentence: str) -> float:
    """Type ``sentence``, press Ctrl+Enter, wait until the script has run; seconds from the key press."""
    box = page.get_by_label("Sentence to translate")
    await box.fill(sentence)
    started = time.perf_counter()
    await box.press("Control+Enter")
    await asyncio.sleep(0.3)
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=240_000)
    return time.perf_counter() - started


async def cost_per_interaction(browser, url: str, pid: int, fresh: list[str]) -> list[dict]:
    """Measurement 1 of the module docstring: one student at a time, each page, a miss then a hit."""
    rows = []
    for page_name, sentence in zip(PAGES, fresh):
        for kind in ("new sentence (cache miss)", "same sentence, another student (cache hit)"):
            ctx, page, _ = await open_page(browser, url, page_name)
            try:
                await asyncio.sleep(0.5)
                before = server_cpu(pid)
                seconds = await type_sentence(page, sentence)
                cpu = server_cpu(pid) - before
                errors = await exceptions(page)
                rows.append({"page": page_name, "kind": kind, "sentence": sentence, "server_cpu_s": round(cpu, 3),
                             "seconds": round(seconds, 2), "exceptions": errors})
                print(f"{page_name:<10} {kind:<44} server CPU {cpu:6.2f} s   wall {seconds:5.2f} s", flush=True)
            finally:
                await ctx.close()
    return rows


async def student(browser, url: str, index: int, sentence: str, expected: str, gate: asyncio.Event,
                  loaded: list) -> dict:
    from playwright.async_api import expect

    row = {"student": index, "sentence": sentence, "errors": []}
    try:
        ctx, page, first_load = await open_page(browser, url, "Translate")
        row["first_load_s"] = round(first_load, 2)
        loaded.append(index)
        try:
            await gate.wait()
            box = page.get_by_label("Sentence to translate")
            await box.fill(sentence)
            started = time.perf_counter()
            await box.press("Control+Enter")
            await expect(page.locator('[data-testid="stCode"]').first).to_have_text(expected, timeout=240_000)
            row["translate_s"] = round(time.perf_counter() - started, 2)
            await settle(page)
            row["idle_s"] = round(time.perf_counter() - started, 2)
            row["errors"] += await exceptions(page)
        finally:
            await ctx.close()
    except Exception as err:  # noqa: BLE001 - a timeout is this student's result
        row["errors"].append(f"{type(err).__name__}: {str(err).splitlines()[0][:200]}")
    return row


async def class_round(browser, url: str, pid: int, students: int, sentences: list[str],
                      expected: dict[str, str]) -> dict:
    """Measurement 2: everybody loads Translate, then everybody types at once."""
    gate, loaded = asyncio.Event(), []
    tasks = [asyncio.create_task(student(browser, url, i, sentences[i % len(sentences)],
                                         expected[sentences[i % len(sentences)]], gate, loaded))
             for i in range(students)]
    while len(loaded) < students and not all(t.done() for t in tasks):
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)  # the last page settles
    before = server_cpu(pid)
    gate.set()
    rows = await asyncio.gather(*tasks)
    cpu = server_cpu(pid) - before
    waits = sorted(r["translate_s"] for r in rows if "translate_s" in r)
    return {"students": students, "distinct_sentences": len(sentences), "rows": rows,
            "translate_s": _summary(waits), "first_load_s": _summary(sorted(r["first_load_s"] for r in rows
                                                                              if "first_load_s" in r)),
            "server_cpu_s": round(cpu, 2), "server_cpu_per_interaction_s": round(cpu / max(len(waits), 1), 3),
            "errors": [f"student {r['student']}: {e}" for r in rows for e in r["errors"]]}


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
    return {"n": len(values), "median": round(statistics.median(values), 2), "p95": p95, "max": values[-1]}


async def drive(url: str, pid: int, args: argparse.Namespace, pool: list[str], expected: dict[str, str]) -> dict:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=240_000)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        try:
            costs = [] if args.skip_costs else await cost_per_interaction(browser, url, pid, pool[-len(PAGES):])
            rounds = []
            for r in range(args.rounds):
                start = r * args.distinct
                result = await class_round(browser, url, pid, args.students, pool[start:start + args.distinct],
                                           expected)
                rounds.append(result)
                print(f"round {r + 1}: {args.students} students, {args.distinct} sentences: "
                      f"{json.dumps({k: result[k] for k in ('translate_s', 'first_load_s', 'server_cpu_s')})}",
                      flush=True)
        finally:
            await browser.close()
    return {"costs": costs, "rounds": rounds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--distinct", type=int, default=5, help="different sentences a class types per round")
    parser.add_argument("--model", default="tatoeba-en-de")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--skip-costs", action="store_true", help="only the class rounds")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if not (1 <= args.students <= MAX_STUDENTS and 1 <= args.rounds <= MAX_ROUNDS and 1 <= args.distinct <= 20):
        parser.error(f"need 1 <= --students <= {MAX_STUDENTS}, 1 <= --rounds <= {MAX_ROUNDS}, 1 <= --distinct <= 20")
    checkpoints = ROOT / "checkpoints"
    if not (checkpoints / f"{args.model}.pt").is_file():
        parser.error(f"no checkpoints/{args.model}.pt")
    pool = sentence_pool(checkpoints / f"{args.model}.pt")
    need = len(PAGES) + args.rounds * args.distinct
    if len(pool) < need:
        parser.error(f"{args.model} offers {len(pool)} sentences; this run needs {need}")
    work = Path(tempfile.mkdtemp(prefix="class-load-"))
    (work / "runs").mkdir()
    expected = expected_translations(checkpoints / f"{args.model}.pt", pool[:need - len(PAGES)])
    env = {"NMT_STUDIO_CHECKPOINTS": str(checkpoints), "NMT_STUDIO_RUNS": str(work / "runs"),
           "NMT_STUDIO_DEFAULT_MODEL": args.model}
    proc, url = start_server(work, env)
    started = time.perf_counter()
    try:
        result = asyncio.run(asyncio.wait_for(drive(url, proc.pid, args, pool, expected), args.max_seconds))
    finally:
        stop_server(proc)
        shutil.rmtree(work, ignore_errors=True)
    summary = {"students": args.students, "rounds": args.rounds, "distinct": args.distinct, "model": args.model,
               "cpus": os.cpu_count(), "elapsed_s": round(time.perf_counter() - started, 1), **result}
    errors = [e for r in result["rounds"] for e in r["errors"]] + [
        f"{c['page']}: {e}" for c in result["costs"] for e in c["exceptions"]]
    print(json.dumps({k: v for k, v in summary.items() if k != "rounds"} | {
        "rounds": [{k: v for k, v in r.items() if k != "rows"} for r in result["rounds"]]}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    print("errors: " + ("none" if not errors else "\n  " + "\n  ".join(errors)))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
