"""A class on one server: what one interaction costs the server, and how long 30 students wait.

    python scripts/class_load.py --students 30 --rounds 2 --max-seconds 900 [--json out.json]

Starts the studio as ``make app`` does (``python -m studio.serve``; ``--no-preload``: plain ``streamlit run app.py``)
on 127.0.0.1 only (a free port) with the shipped checkpoints (default model
``--model``, tatoeba-en-de) and an empty runs folder, and drives headless Chromium (Debian's, never
``playwright install``). Two measurements:

1. *Server CPU per interaction*, one student at a time: on Translate, Attention, Gates and Gradient flow, type a
   sentence nobody has typed (a cache miss) and then, from a second browser session, the same sentence (what a
   class does with the example chips: a cache hit). The figure is the server process's own CPU time
   (``/proc/PID/stat`` utime + stime) from pressing Ctrl+Enter until the page is idle again; the browsers run in
   other processes, so their CPU is excluded.
2. *The class at once*: ``--students`` sessions open a page (``--pages``, default Translate; student i takes page
   i mod n), then, all at the same moment, each types one of ``--distinct`` example sentences (student i takes
   example i mod distinct, as a class does with the chips). The students are protocol clients
   (``class_clients.Student``: the browser's own websocket messages, no browser), so the figures are the server's:
   30 headless Chromium tabs on the same 2 cores measure Chromium (tried: median 57 s, load average 33). Reported:
   median, p95 and max seconds until a student's page has run to its end, on Translate also until *its own*
   translation arrived (checked against the offline translation: no session may get another's), and the
   server's CPU seconds per interaction over the round. Repeated for ``--rounds`` rounds with fresh examples.

3. *The class at work* (``--think T --duration D``): every student types the next example sentence, waits for
   its page, thinks for an exponentially distributed time of mean T seconds (seeded per student) and types again,
   for D seconds: the load of a class that reads what it sees. Reported: the same times over every interaction,
   the interactions per second and the server's busy cores (CPU seconds per second).

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


def server_cpu(pid: int | list[int]) -> float:
    """CPU seconds (user + system) the server process (or processes: ``--replicas``) has used so far."""
    if isinstance(pid, list):
        return sum(server_cpu(p) for p in pid)
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


async def cost_per_interaction(browser, url: str, pid: int | list[int], fresh: list[str]) -> list[dict]:
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


async def student(url: str, index: int, page: str, sentence: str, expected: str | None, gate: asyncio.Event,
                  loaded: list) -> dict:
    """One protocol client (``class_clients.Student``): open ``page``, wait for the gate, type ``sentence``."""
    from class_clients import Student

    row = {"student": index, "page": page, "sentence": sentence, "errors": []}
    client = Student(url, page)
    try:
        first = await client.open()
        row["first_load_s"] = round(first.finished_s, 2)
        loaded.append(index)
        await gate.wait()
        run = await client.type_sentence(sentence, expected)
        row["page_s"] = round(run.finished_s, 2)
        if expected is not None:
            row["translation_s"] = None if run.shown_s is None else round(run.shown_s, 2)
            if run.shown_s is None:
                row["errors"].append(f"its translation {expected!r} was never shown (codes: {run.codes[:2]})")
        row["errors"] += run.exceptions
    except Exception as err:  # noqa: BLE001 - a timeout is this student's result
        loaded.append(index)
        row["errors"].append(f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}")
    finally:
        await client.close()
    return row


async def class_round(urls: list[str], pid: list[int], students: int, pages: list[str], sentences: list[str],
                      expected: dict[str, str]) -> dict:
    """Measurement 2: everybody opens a page (student i: page i mod pages), then everybody types at once."""
    gate, loaded, tasks = asyncio.Event(), [], []
    for i in range(students):
        page, sentence = pages[i % len(pages)], sentences[i % len(sentences)]
        tasks.append(asyncio.create_task(student(urls[i % len(urls)], i, page, sentence,
                                                 expected[sentence] if page == "Translate" else None, gate, loaded)))
    while len(loaded) < students:
        await asyncio.sleep(0.2)
    before = server_cpu(pid)
    gate.set()
    rows = await asyncio.gather(*tasks)
    cpu = server_cpu(pid) - before
    pages_s = sorted(r["page_s"] for r in rows if r.get("page_s") is not None)
    shown = sorted(r["translation_s"] for r in rows if r.get("translation_s") is not None)
    return {"students": students, "pages": pages, "distinct_sentences": len(sentences), "rows": rows,
            "page_s": _summary(pages_s), "translation_s": _summary(shown),
            "first_load_s": _summary(sorted(r["first_load_s"] for r in rows if "first_load_s" in r)),
            "server_cpu_s": round(cpu, 2), "server_cpu_per_interaction_s": round(cpu / max(len(pages_s), 1), 3),
            "errors": [f"student {r['student']}: {e}" for r in rows for e in r["errors"]]}


async def working_student(url: str, index: int, page: str, sentences: list[str], expected: dict[str, str],
                          think: float, until: float, seed: int) -> list[dict]:
    """A student at work: open ``page``, then until ``until`` (``time.perf_counter``) think for an exponential time
    of mean ``think`` seconds and type the next sentence (the examples in turn, starting at their own place)."""
    import random

    from class_clients import Student

    rng, rows, client = random.Random(seed), [], Student(url, page)
    try:
        await client.open()
        k = index
        while True:
            await asyncio.sleep(min(rng.expovariate(1.0 / think), max(0.0, until - time.perf_counter())))
            if time.perf_counter() >= until:
                break
            sentence = sentences[k % len(sentences)]
            k += 1
            wanted = expected[sentence] if page == "Translate" else None
            run = await client.type_sentence(sentence, wanted)
            rows.append({"student": index, "page": page, "sentence": sentence, "page_s": round(run.finished_s, 2),
                         "translation_s": None if run.shown_s is None else round(run.shown_s, 2),
                         "errors": run.exceptions + ([] if wanted is None or run.shown_s is not None
                                                     else [f"its translation {wanted!r} was never shown"])})
    except Exception as err:  # noqa: BLE001 - a timeout is this student's result
        rows.append({"student": index, "page": page, "errors": [f"{type(err).__name__}: {str(err)[:200]}"]})
    finally:
        await client.close()
    return rows


async def working_class(urls: list[str], pid: list[int], args: argparse.Namespace, sentences: list[str],
                        expected: dict[str, str]) -> dict:
    """Measurement 3: the class at work for ``--duration`` seconds, each student typing after a think time."""
    before, started = server_cpu(pid), time.perf_counter()
    until = started + args.duration
    tasks = [working_student(urls[i % len(urls)], i, args.pages[i % len(args.pages)], sentences, expected, args.think,
                             until, i)
             for i in range(args.students)]
    rows = [r for student_rows in await asyncio.gather(*tasks) for r in student_rows]
    cpu, seconds = server_cpu(pid) - before, time.perf_counter() - started
    done = [r for r in rows if "page_s" in r]
    return {"students": args.students, "pages": args.pages, "think_s": args.think, "duration_s": round(seconds, 1),
            "interactions": len(done), "interactions_per_s": round(len(done) / seconds, 2),
            "page_s": _summary(sorted(r["page_s"] for r in done)),
            "translation_s": _summary(sorted(r["translation_s"] for r in done if r["translation_s"] is not None)),
            "server_cpu_s": round(cpu, 2), "server_cpu_per_interaction_s": round(cpu / max(len(done), 1), 3),
            "server_cores_busy": round(cpu / seconds, 2),
            "errors": [f"student {r['student']}: {e}" for r in rows for e in r["errors"]], "rows": rows}


def _summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
    return {"n": len(values), "median": round(statistics.median(values), 2), "p95": p95, "max": values[-1]}


async def drive(urls: list[str], pid: list[int], args: argparse.Namespace, pool: list[str],
                expected: dict[str, str]) -> dict:
    from playwright.async_api import async_playwright, expect

    costs = []
    if not args.skip_costs:
        expect.set_options(timeout=240_000)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
            try:
                costs = await cost_per_interaction(browser, urls[0], pid, pool[-len(PAGES):])
            finally:
                await browser.close()
    rounds = []
    for r in range(args.rounds):
        start = r * args.distinct
        result = await class_round(urls, pid, args.students, args.pages, pool[start:start + args.distinct],
                                   expected)
        rounds.append(result)
        print(f"round {r + 1}: {args.students} students on {', '.join(args.pages)}, {args.distinct} sentences: "
              f"{json.dumps({k: result[k] for k in ('page_s', 'translation_s', 'first_load_s', 'server_cpu_s')})}",
              flush=True)
    working = None
    if args.think:
        working = await working_class(urls, pid, args, pool[:args.distinct * max(args.rounds, 1)], expected)
        print(f"working class: {json.dumps({k: v for k, v in working.items() if k not in ('rows', 'errors')})}",
              flush=True)
    return {"costs": costs, "rounds": rounds, "working": working}


def report(doc: dict) -> str:
    """The Markdown tables docs/benchmarks.md#classroom-load holds for one saved run (tests/test_classroom_docs.py)."""
    lines = []
    if doc.get("costs"):
        lines += ["| page | interaction | server CPU (s) | seconds to an idle page |", "|---|---|---:|---:|"]
        lines += [f"| {c['page']} | {c['kind']} | {c['server_cpu_s']:.2f} | {c['seconds']:.2f} |" for c in doc["costs"]]
        lines.append("")
    on = f", {doc['replicas']} replicas" if doc.get("replicas", 1) > 1 else ""
    runs = [(f"round {i + 1}: all {r['students']} at once{on}", r) for i, r in enumerate(doc.get("rounds") or [])]
    if doc.get("working"):
        w = doc["working"]
        runs.append((f"at work: think {w['think_s']:g} s, {w['duration_s']:g} s, {w['interactions']} interactions", w))
    if runs:
        lines += ["| run | pages | translation shown: median / p95 (s) | page done: median / p95 (s) | "
                  "server CPU per interaction (s) |", "|---|---|---:|---:|---:|"]
        for name, r in runs:
            t, p = r["translation_s"], r["page_s"]
            shown = f"{t['median']:.2f} / {t['p95']:.2f}" if t.get("n") else "-"
            lines.append(f"| {name} | {', '.join(r['pages'])} | {shown} | {p['median']:.2f} / {p['p95']:.2f} | "
                         f"{r['server_cpu_per_interaction_s']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--distinct", type=int, default=5, help="different sentences a class types per round")
    parser.add_argument("--model", default="tatoeba-en-de")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--skip-costs", action="store_true", help="only the class rounds")
    parser.add_argument("--pages", default="Translate", type=lambda v: v.split(","),
                        help="pages the class works on, comma-separated (student i takes page i mod n); default "
                             "Translate")
    parser.add_argument("--think", type=float, default=0,
                        help="also run a working class: each student types again after an exponential think time of "
                             "this mean (seconds), for --duration seconds")
    parser.add_argument("--replicas", type=int, default=1,
                        help="studio processes on this machine (1-4); student i talks to replica i mod n, as sticky "
                             "sessions behind nginx would spread them (docs/deploy.md)")
    parser.add_argument("--duration", type=float, default=120, help="length of the working-class run (seconds)")
    parser.add_argument("--no-preload", action="store_true",
                        help="start the server by plain `streamlit run app.py` instead of `studio.serve` (make app's)")
    parser.add_argument("--json")
    parser.add_argument("--report", metavar="JSON", help="print the docs tables of a saved run and exit")
    args = parser.parse_args(argv)
    if args.report:
        print(report(json.loads(Path(args.report).read_text(encoding="utf-8"))))
        return 0
    if set(args.pages) - set(PAGES):
        parser.error(f"--pages: choose from {', '.join(PAGES)}")
    if not 1 <= args.replicas <= 4:
        parser.error("need 1 <= --replicas <= 4")
    if args.think and not (1 <= args.think <= 600 and 10 <= args.duration <= 900):
        parser.error("need 1 <= --think <= 600 and 10 <= --duration <= 900 seconds")
    if not (1 <= args.students <= MAX_STUDENTS and 0 <= args.rounds <= MAX_ROUNDS and 1 <= args.distinct <= 20):
        parser.error(f"need 1 <= --students <= {MAX_STUDENTS}, 1 <= --rounds <= {MAX_ROUNDS}, 1 <= --distinct <= 20")
    checkpoints = ROOT / "checkpoints"
    if not (checkpoints / f"{args.model}.pt").is_file():
        parser.error(f"no checkpoints/{args.model}.pt")
    pool = sentence_pool(checkpoints / f"{args.model}.pt")
    need = len(PAGES) + max(args.rounds, 1) * args.distinct
    if len(pool) < need:
        parser.error(f"{args.model} offers {len(pool)} sentences; this run needs {need}")
    work = Path(tempfile.mkdtemp(prefix="class-load-"))
    (work / "runs").mkdir()
    expected = expected_translations(checkpoints / f"{args.model}.pt", pool[:need - len(PAGES)])
    env = {"NMT_STUDIO_CHECKPOINTS": str(checkpoints), "NMT_STUDIO_RUNS": str(work / "runs"),
           "NMT_STUDIO_DEFAULT_MODEL": args.model}
    # student i talks to server i mod replicas
    servers = [start_server(work, env, preload=not args.no_preload) for _ in range(args.replicas)]
    started = time.perf_counter()
    try:
        result = asyncio.run(asyncio.wait_for(drive([u for _, u in servers], [p.pid for p, _ in servers], args, pool,
                                                    expected), args.max_seconds))
    finally:
        for proc, _ in servers:
            stop_server(proc)
        shutil.rmtree(work, ignore_errors=True)
    summary = {"students": args.students, "rounds": args.rounds, "distinct": args.distinct, "model": args.model,
               "replicas": args.replicas,
               "cpus": os.cpu_count(), "elapsed_s": round(time.perf_counter() - started, 1), **result}
    errors = [e for r in result["rounds"] for e in r["errors"]] + (result["working"] or {}).get("errors", []) + [
        f"{c['page']}: {e}" for c in result["costs"] for e in c["exceptions"]]
    print(json.dumps({k: v for k, v in summary.items() if k not in ("rounds", "working")} | {
        "rounds": [{k: v for k, v in r.items() if k != "rows"} for r in result["rounds"]]}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    print("errors: " + ("none" if not errors else "\n  " + "\n  ".join(errors)))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
