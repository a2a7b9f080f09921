"""Many users at once: N browser sessions translating and inspecting on one studio server, plus two
training requests at the same moment.

    python scripts/load_sessions.py --sessions 20 --max-seconds 600 [--json out.json] [--no-training]

Starts the studio as ``make app`` does (``python -m studio.serve``) on 127.0.0.1 (a free port; nothing listens on
other interfaces) with its own checkpoints and runs folders, opens N browser contexts (separate cookies, separate
Streamlit sessions) in one headless Chromium and, all at the same time:

1. each session types its own sentence on the Translate page and waits for the best translation; it must
   be exactly the translation the same checkpoint gives offline for *that* sentence (the sentences are
   chosen so that all N translations differ), and the page must show no exception;
2. each session then opens the Attention page (the sentence is carried over) and checks that the target
   the decoder writes is its own sentence's greedy translation and that the heatmap draws; session 0 then
   types an HTML/JavaScript payload, which must not become an <img>/<script> element or open a dialog;
3. two further sessions fill the Train form and press Start at the same moment: the one-at-a-time policy
   must start exactly one run and tell the other why (a warning naming the running run).

Prints one row per session and a summary (latencies, errors, state crossings); exit status 0 when all
checks pass. Needs Debian's /usr/bin/chromium and the playwright package (never ``playwright install``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from nmt_core.runs import list_runs

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PAYLOAD = "<img src=x onerror=alert(1)><script>alert('xss')</script> [x](javascript:alert(1)) the car"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, env_vars: dict[str, str], *, preload: bool = True) -> tuple[subprocess.Popen, str]:
    """The studio on a free loopback port, started as ``make app`` starts it (``studio.serve``: libraries loaded
    before the first session) or, ``preload=False``, by plain ``streamlit run app.py``."""
    env = {**os.environ, **env_vars, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    port = free_port()
    log = open(folder / "streamlit.log", "wb")  # noqa: SIM115 - lives as long as the server
    launcher = ["studio.serve"] if preload else ["streamlit", "run", "app.py"]
    proc = subprocess.Popen([sys.executable, "-m", *launcher, "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_server(proc)
            raise RuntimeError(f"streamlit did not start: {(folder / 'streamlit.log').read_text()[-2000:]}")
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group only
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def pick_sentences(checkpoint: Path, n: int) -> list[dict]:
    """n source sentences of the model's task whose beam (k=5, the page's default) and greedy translations
    are all different from each other and from the page's default example."""
    from nmt_core import tasks
    from nmt_core.translator import Translator

    tr = Translator.from_path(checkpoint, "cpu")
    data = tr.checkpoint.config.data
    info = tasks.get_task(data.task).info
    candidates = list(dict.fromkeys(tasks.generate(data.task, size=400, seed=12345).src))
    default_beam = tr.beam_search(info.examples[0], beam_size=5, nbest=5).best.text
    chosen, seen = [], {default_beam}
    for src in candidates:
        beam = tr.beam_search(src, beam_size=5, nbest=5).best.text
        (greedy,) = tr.translate([src])
        if beam in seen or not beam or src in info.examples:
            continue
        seen.add(beam)
        chosen.append({"src": src, "beam": beam, "greedy": greedy})
        if len(chosen) == n:
            return chosen
    raise RuntimeError(f"only {len(chosen)} sentences with distinct translations")


async def settle(page) -> None:
    await asyncio.sleep(0.4)
    await page.wait_for_selector(IDLE, timeout=120_000)


async def exceptions(page) -> list[str]:
    return [await e.inner_text() for e in await page.locator('[data-testid="stException"]').all()]


async def session(browser, url: str, index: int, case: dict, others: set[str], gate: asyncio.Event) -> dict:
    """One user: translate, check it is their own translation, then inspect the attention."""
    from playwright.async_api import expect

    row = {"session": index, "sentence": case["src"], "expected": case["beam"], "ok": False, "errors": []}
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1200})
    page = await ctx.new_page()
    page.set_default_timeout(180_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
    try:
        await page.goto(f"{url}/Translate")
        await expect(page.get_by_role("heading", name="Translate & beam search")).to_be_visible()
        await settle(page)
        await gate.wait()  # everybody types at the same moment
        started = time.perf_counter()
        box = page.get_by_label("Sentence to translate")
        await box.fill(case["src"])
        await box.press("Control+Enter")
        best = page.locator('[data-testid="stCode"]').first
        await expect(best).to_have_text(case["beam"], timeout=240_000)
        row["translate_s"] = round(time.perf_counter() - started, 2)
        await settle(page)
        shown = (await best.inner_text()).strip()
        row["shown"] = shown
        if shown != case["beam"]:
            row["errors"].append(f"translation {shown!r} is not {case['beam']!r}")
        if shown in others:
            row["errors"].append(f"shows ANOTHER session's translation {shown!r}")
        if await box.input_value() != case["src"]:
            row["errors"].append(f"sentence box holds {await box.input_value()!r}")
        row["errors"] += [f"exception on Translate: {e[:200]}" for e in await exceptions(page)]

        started = time.perf_counter()
        await page.get_by_role("link", name="Attention").first.click()
        await expect(page.get_by_role("heading", name="Attention")).to_be_visible()
        target = page.locator('[data-testid="stCode"]').first
        await expect(target).to_have_text(case["greedy"], timeout=240_000)
        await expect(page.locator('[data-testid="stVegaLiteChart"]').first.locator("svg, canvas").first).to_be_visible()
        row["attention_s"] = round(time.perf_counter() - started, 2)
        await settle(page)
        if await page.get_by_label("Sentence to translate").input_value() != case["src"]:
            row["errors"].append("the Attention page shows another sentence")
        row["errors"] += [f"exception on Attention: {e[:200]}" for e in await exceptions(page)]
        if index == 0:  # one session also types an HTML/JS payload: it must stay text
            box = page.get_by_label("Sentence to translate")
            await box.fill(PAYLOAD)
            await box.press("Control+Enter")
            await settle(page)
            await asyncio.sleep(1.0)
            if await page.locator('img[src="x"], script:has-text("alert")').count():
                row["errors"].append("the HTML payload was rendered as HTML")
            row["errors"] += [f"exception on payload: {e[:200]}" for e in await exceptions(page)]
            row["payload_checked"] = True
        if dialogs:
            row["errors"].append(f"a script ran a dialog: {dialogs}")
    except Exception as err:  # noqa: BLE001 - a timeout or a crash is this session's result
        row["errors"].append(f"{type(err).__name__}: {str(err).splitlines()[0][:300]}")
    finally:
        await ctx.close()
    row["ok"] = not row["errors"]
    return row


TRAIN_FORM = [("Sentence pairs to generate", "300"), ("Held-out dev sentences", "30"), ("Embedding size", "8"),
              ("Hidden size", "8"), ("Steps", "100000"), ("Validate every (steps)", "50"), ("Batch size", "16")]


async def trainer(browser, url: str, name: str, ready: asyncio.Barrier) -> dict:
    """Fill the Train form, wait for the other trainer, press Start; report what the page said."""
    from playwright.async_api import expect

    ctx = await browser.new_context(viewport={"width": 1400, "height": 1600})
    page = await ctx.new_page()
    page.set_default_timeout(180_000)
    out = {"name": name, "started": False, "warning": None, "errors": []}
    try:
        await page.goto(f"{url}/Train")
        await expect(page.get_by_role("heading", name="New training run")).to_be_visible()
        await settle(page)
        for label, value in [("Run name", name), *TRAIN_FORM]:
            field = page.get_by_label(label, exact=True)
            await field.fill(value)
            await field.press("Enter")
            await settle(page)
        await ready.wait()
        await page.get_by_role("button", name="Start training").click()
        refused = page.locator('[data-testid="stAlert"]').filter(has_text="already running")
        progress = page.locator('[data-testid="stProgress"]').filter(has_text=name)
        clicked = time.monotonic()
        while time.monotonic() - clicked < 300 and not (await refused.count() or await progress.count()):
            await asyncio.sleep(0.25)
        out["answer_s"] = round(time.monotonic() - clicked, 1)
        out["warning"] = (await refused.first.inner_text()).strip() if await refused.count() else None
        out["started"] = await progress.count() > 0
        if not (out["warning"] or out["started"]):  # say what the page showed instead
            out["alerts"] = [(await a.inner_text())[:200] for a in await page.locator('[data-testid="stAlert"]').all()]
        out["errors"] += [f"exception on Train: {e[:200]}" for e in await exceptions(page)]
    except Exception as err:  # noqa: BLE001
        out["errors"].append(f"{type(err).__name__}: {str(err).splitlines()[0][:300]}")
    finally:
        await ctx.close()
    return out


async def drive(url: str, cases: list[dict], training: bool) -> tuple[list[dict], list[dict]]:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=180_000)  # the first page load imports torch; 20 sessions share 2 cores
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        try:
            gate = asyncio.Event()
            expected = [c["beam"] for c in cases]
            tasks = [asyncio.create_task(session(browser, url, i, c, set(expected) - {c["beam"]}, gate))
                     for i, c in enumerate(cases)]
            trainers = []
            if training:
                ready = asyncio.Barrier(2)
                trainers = [asyncio.create_task(trainer(browser, url, n, ready)) for n in ("load-a", "load-b")]
            await asyncio.sleep(2.0)  # let every page load, then release all the sentences at once
            gate.set()
            rows = await asyncio.gather(*tasks)
            train_rows = list(await asyncio.gather(*trainers))
        finally:
            await browser.close()
    return list(rows), train_rows


def run_load(sessions: int, max_seconds: float, training: bool = True, json_path: str | None = None,
             work: Path | None = None) -> dict:
    from conftest_app import build_studio_env, kill_runs


    work = Path(work or tempfile.mkdtemp(prefix="load-sessions-"))
    env_vars = build_studio_env(work)
    cases = pick_sentences(Path(env_vars["NMT_STUDIO_CHECKPOINTS"]) / "toy-en-es.pt", sessions)
    t0 = time.perf_counter()
    proc, url = start_server(work, env_vars)
    runs = Path(env_vars["NMT_STUDIO_RUNS"])
    try:
        rows, train_rows = asyncio.run(asyncio.wait_for(drive(url, cases, training), max_seconds))
        runs_started = [i.name for i in list_runs(runs)]
    finally:
        kill_runs(runs)
        stop_server(proc)
    failures = [f"session {r['session']}: {e}" for r in rows for e in r["errors"]]
    crossings = sum(any("ANOTHER" in e or "another sentence" in e for e in r["errors"]) for r in rows)
    training_ok = None
    if training:
        started = [t for t in train_rows if t["started"]]
        refused = [t for t in train_rows if t["warning"]]
        training_ok = len(runs_started) == 1 and len(started) == 1 and len(refused) == 1 and \
            started[0]["name"] in refused[0]["warning"]
        if not training_ok:
            failures.append(f"training race: runs {runs_started}, pages said {train_rows}")
        failures += [f"trainer {t['name']}: {e}" for t in train_rows for e in t["errors"]]
    latencies = [r["translate_s"] for r in rows if "translate_s" in r]
    att = [r["attention_s"] for r in rows if "attention_s" in r]
    summary = {
        "sessions": sessions, "sessions_ok": sum(r["ok"] for r in rows), "state_crossings": crossings,
        "exceptions": sum("exception" in e for r in rows for e in r["errors"]),
        "translate_s": {"median": statistics.median(latencies) if latencies else None,
                        "max": max(latencies, default=None)},
        "attention_s": {"median": statistics.median(att) if att else None, "max": max(att, default=None)},
        "training": {"runs_started": runs_started, "pages": train_rows} if training else None,
        "training_ok": training_ok, "elapsed_s": round(time.perf_counter() - t0, 1), "failures": failures,
    }
    print("\n| session | sentence | translation shown | own? | translate (s) | attention (s) | errors |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['session']} | {r['sentence']} | {r.get('shown', '')} | {'yes' if r['ok'] else 'NO'} | "
              f"{r.get('translate_s', '-')} | {r.get('attention_s', '-')} | {'; '.join(r['errors']) or '-'} |")
    if training:
        for t in train_rows:
            print(f"training request {t['name']}: started={t['started']} warning={t['warning']!r}")
    print(f"\nsummary: {json.dumps({k: v for k, v in summary.items() if k not in ('failures', 'training')})}")
    print("failures: " + ("none" if not failures else "\n  " + "\n  ".join(failures)))
    if json_path:
        Path(json_path).write_text(json.dumps({**summary, "rows": rows}, indent=1, ensure_ascii=False),
                                   encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--no-training", action="store_true", help="skip the two simultaneous training requests")
    parser.add_argument("--json", help="write the summary and every session's row here")
    args = parser.parse_args(argv)
    summary = run_load(args.sessions, args.max_seconds, not args.no_training, args.json)
    return 0 if not summary["failures"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
