"""One hostile link against a class: the most expensive URL the studio accepts, opened while ten students
translate. Their median time to see a translation must stay within 2x of the idle figure, and the server's
memory under 1.5 GB.

    python scripts/expensive_link_load.py [--students 10] [--rounds 2] [--max-seconds 600] [--json out.json]

Starts the studio as ``make app`` does (``python -m studio.serve``) on 127.0.0.1 (a free port, loopback only) with
the test studio's models (``tests/conftest_app.build_studio_env``), then, in one headless Chromium:

1. idle: the students, all at once, open the Translate page each on its own sentence (``?s=...``) and the time
   until the best translation shows is recorded: the idle median (the class alone, so the ratio below is the
   attacker's effect, not the cost of ten students sharing two cores);
2. load: the attacker keeps re-opening the most expensive locked links it can build (a 2,000-character
   sentence, ``beam_size=1500``, ``n=1500``, ``lp=gnmt&alpha=1e308``, a 4,500-character forced prefix; the
   Gates page with ``unit=100000``; the Data page with ``size=1000000``) while the students, all at once,
   open their pages again: the loaded median;
3. the server's resident memory (its process tree, from /proc) is sampled every 0.2 s throughout.

Prints the two medians, their ratio, the peak memory and every failure; exit status 0 when the ratio is at
most 2 and the peak under 1.5 GB. Bounded in time (``--max-seconds``) and count; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]

from load_sessions import CHROME_ARGS, CHROMIUM, IDLE, start_server, stop_server  # noqa: E402

SENTENCES = ["the red car is fast", "the small dog eats", "the green house is big", "the cat sleeps",
             "the big dogs are slow", "a red apple", "the girl reads a book", "the boy runs",
             "the old man walks", "the blue car is small", "the woman drinks water", "the children play"]
LONG = ("the red car is fast and the small dog eats the green apple " * 40)[:2000]
ATTACKS = [
    ("Translate", {"locked": "1", "s": LONG, "beam_size": "1500", "n": "1500", "lp": "gnmt", "alpha": "1e308",
                   "stop": "exact", "prefix": "el " * 1500, "mine": "x" * 5000}),
    ("Gates", {"locked": "1", "s": LONG, "unit": "100000", "layer": "9999"}),
    ("Data", {"locked": "1", "corpus": "built-in task: toy-en-es", "size": "1000000", "q": "a" * 5000}),
    ("Gradients", {"locked": "1", "s": LONG}),
]
MAX_RSS_MB = 1500
MAX_RATIO = 2.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            todo += [int(c) for c in children]
        except OSError:
            continue
    return total / 1024


class MemorySampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.2)


async def translate_once(browser, url: str, sentence: str) -> dict:
    """Open the Translate page on ``sentence`` (greedy keeps the student's request cheap, as in class) and time
    it until the best translation shows."""
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(300_000)
    started = time.perf_counter()
    try:
        await page.goto(f"{url}/Translate?{urlencode({'s': sentence, 'mode': 'greedy'})}")
        await page.get_by_text("Best translation", exact=True).wait_for()
        await page.wait_for_selector(IDLE)
        seconds = time.perf_counter() - started
        errors = await page.locator('[data-testid="stException"]').count()
        return {"sentence": sentence, "seconds": round(seconds, 2), "exceptions": errors}
    finally:
        await ctx.close()


async def attacker(browser, url: str, stop: asyncio.Event, log: list) -> None:
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(300_000)
    try:
        while not stop.is_set():
            for path, query in ATTACKS:
                started = time.perf_counter()
                await page.goto(f"{url}/{path}?{urlencode(query)}")
                await page.wait_for_selector("h1")
                await asyncio.sleep(0.3)
                await page.wait_for_selector(IDLE)
                log.append({"page": path, "seconds": round(time.perf_counter() - started, 2),
                            "exceptions": await page.locator('[data-testid="stException"]').count()})
                if stop.is_set():
                    break
    finally:
        await ctx.close()


async def drive(url: str, students: int, rounds: int) -> dict:
    from playwright.async_api import async_playwright

    sentences = (SENTENCES * (students // len(SENTENCES) + 1))[:students]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        await translate_once(browser, url, "the car")  # load the model once: not part of either figure
        idle = []  # the class alone: the same students, all at once, with no attacker
        for _ in range(rounds):
            idle += await asyncio.gather(*(translate_once(browser, url, s) for s in sentences))
        stop, attacks = asyncio.Event(), []
        attack = asyncio.create_task(attacker(browser, url, stop, attacks))
        await asyncio.sleep(3)  # the first expensive link is being served
        loaded = []
        for _ in range(rounds):
            loaded += await asyncio.gather(*(translate_once(browser, url, s) for s in sentences))
        stop.set()
        await attack
        await browser.close()
    return {"idle": idle, "loaded": loaded, "attacks": attacks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--json")
    args = parser.parse_args()
    from conftest_app import build_studio_env

    work = Path(tempfile.mkdtemp(prefix="expensive-link-"))
    proc, url = start_server(work, build_studio_env(work))
    sampler = MemorySampler(proc.pid)
    sampler.start()
    try:
        result = asyncio.run(asyncio.wait_for(drive(url, args.students, args.rounds), args.max_seconds))
    finally:
        sampler.running = False
        stop_server(proc)
    idle = statistics.median(r["seconds"] for r in result["idle"])
    loaded = statistics.median(r["seconds"] for r in result["loaded"])
    failures = [f"exception on {r['sentence']}" for r in result["idle"] + result["loaded"] if r["exceptions"]]
    failures += [f"exception on the attack page {a['page']}" for a in result["attacks"] if a["exceptions"]]
    summary = {"students": args.students, "rounds": args.rounds, "idle_median_s": idle, "loaded_median_s": loaded,
               "ratio": round(loaded / idle, 2), "peak_rss_mb": round(sampler.peak), "attacks": len(result["attacks"]),
               "attack_max_s": max((a["seconds"] for a in result["attacks"]), default=None)}
    if summary["ratio"] > MAX_RATIO:
        failures.append(f"loaded median {loaded:.2f} s is more than {MAX_RATIO}x the idle {idle:.2f} s")
    if sampler.peak > MAX_RSS_MB:
        failures.append(f"server memory peaked at {sampler.peak:.0f} MB (limit {MAX_RSS_MB})")
    print(json.dumps(summary))
    print("failures: " + ("none" if not failures else "; ".join(failures)))
    if args.json:
        Path(args.json).write_text(json.dumps({**summary, **result, "failures": failures}, indent=1))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
