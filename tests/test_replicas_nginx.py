"""Two studio replicas behind Debian's nginx on loopback, with deploy/nginx.conf as shipped (docs/deploy.md).

Opt-in (it starts two Streamlit servers and nginx): ``NMT_STUDIO_REPLICA_TEST=1 python -m pytest
tests/test_replicas_nginx.py``; skipped otherwise, or without /usr/sbin/nginx (``apt-get install nginx``).
The replicas share one checkpoints folder, one runs folder and one cookie secret, as the compose and Kubernetes
recipes set them up; nginx runs in the foreground as the current user with everything under a temporary prefix.

What must hold for a classroom behind one load balancer:
* health and pages answer through nginx;
* a browser's first visit gets the affinity cookie and lands on the replica the cookie then keeps it on (all
  clients on loopback share one IP, so this is the cookie scheme, not ip_hash, at work);
* different browsers are spread over both replicas;
* the websocket (/_stcore/stream) upgrades through nginx, on the browser's own replica;
* uploads up to Streamlit's 50 MB limit pass nginx, larger ones are refused by nginx;
* a run written to the shared runs folder is listed by both replicas (in Chromium, when it is installed).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import pwd
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest_app import build_studio_env, kill_runs

from nmt_core.runs import RunDir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from load_sessions import CHROME_ARGS, CHROMIUM, IDLE, free_port, start_server, stop_server  # noqa: E402

NGINX = Path("/usr/sbin/nginx")
TEMPLATE = ROOT / "deploy" / "nginx.conf"
COOKIE = "nmtstudio_replica"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455: the accept key is sha1(key + this), base64

pytestmark = [
    pytest.mark.skipif(os.environ.get("NMT_STUDIO_REPLICA_TEST") != "1",
                       reason="opt-in: set NMT_STUDIO_REPLICA_TEST=1 (starts two studio servers and nginx)"),
    pytest.mark.skipif(not NGINX.exists(), reason=f"{NGINX} is missing (apt-get install nginx)"),
]


@dataclass(frozen=True)
class Cluster:
    """The load balancer's port, the replicas' host:port as nginx names them, and the shared runs folder."""

    port: int
    replicas: tuple[str, ...]
    runs: Path


# ------------------------------------------------------------------------------------------------ setting up
def render_nginx(upstreams: list[str], port: int, prefix: Path) -> str:
    """deploy/nginx.conf with these upstream servers, listening on loopback, every file nginx writes under
    ``prefix``. Each replaced line must occur exactly once, so a changed template fails here, not later."""
    template = TEMPLATE.read_text(encoding="utf-8")
    temp = "".join(f"    {kind}_temp_path {prefix / 'tmp' / kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    line = next((x for x in template.splitlines(keepends=True) if x.strip().startswith("server studio:8501")), "")
    replacements = {
        line or "server studio:8501": "".join(line.replace("studio:8501", u) for u in upstreams),
        "        listen 80;\n": f"        listen 127.0.0.1:{port};\n",
        "\nhttp {\n": f"\nhttp {{\n    access_log {prefix / 'access.log'};\n{temp}",
    }
    for old, new in replacements.items():
        assert template.count(old) == 1, f"deploy/nginx.conf no longer has exactly one {old.strip()!r}"
        template = template.replace(old, new)
    return template


def start_nginx(prefix: Path, upstreams: list[str]) -> tuple[subprocess.Popen, int]:
    """nginx in the foreground, in its own process group; returns it once it proxies a health check."""
    port = free_port()
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "nginx.conf").write_text(render_nginx(upstreams, port, prefix), encoding="utf-8")
    directives = f"daemon off; pid {prefix / 'nginx.pid'};"
    if os.geteuid() == 0:  # as root nginx would drop its workers to "nobody", who cannot use the temp folders
        directives += f" user {pwd.getpwuid(os.geteuid()).pw_name};"
    log = open(prefix / "nginx.out", "wb")  # noqa: SIM115 - lives as long as nginx
    proc = subprocess.Popen([str(NGINX), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                             "-e", str(prefix / "error.log"), "-g", directives],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 30
    while True:
        try:
            if request(port, "/_stcore/health")[2] == b"ok":
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_server(proc)
            errors = "".join(p.read_text(errors="replace") for p in (prefix / "nginx.out", prefix / "error.log")
                             if p.exists())
            raise RuntimeError(f"nginx did not start: {errors[-2000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("replicas")
    env = build_studio_env(folder) | {"STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(16)}
    procs: list[subprocess.Popen] = []
    try:
        replicas = []
        for i in range(2):
            (folder / f"replica{i}").mkdir()
            proc, url = start_server(folder / f"replica{i}", env)
            procs.append(proc)
            replicas.append(urlparse(url).netloc)
        nginx, port = start_nginx(folder / "nginx", replicas)
        procs.append(nginx)
        yield Cluster(port, tuple(replicas), Path(env["NMT_STUDIO_RUNS"]))
    finally:
        for proc in reversed(procs):
            stop_server(proc)  # the process's own group only: nginx with its workers, a replica
        kill_runs(folder / "runs")


def request(port: int, path: str, cookie: str | None = None, method: str = "GET",
            body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One HTTP request to nginx; (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def affinity_cookies(headers: http.client.HTTPMessage) -> list[str]:
    """The Set-Cookie headers of nginx's affinity cookie (Streamlit sets its own XSRF cookie beside it)."""
    return [c for c in headers.get_all("Set-Cookie") or [] if c.startswith(f"{COOKIE}=")]


def replica_for(cluster: Cluster, cookie: str) -> str:
    status, headers, _ = request(cluster.port, "/_stcore/health", cookie)
    assert status == 200, f"health through nginx answered {status}"
    return headers["X-Replica"]


@pytest.fixture(scope="module")
def pinned(cluster) -> dict[str, str]:
    """One cookie for each replica: {replica: cookie}."""
    found: dict[str, str] = {}
    for i in range(64):
        found.setdefault(replica_for(cluster, f"student-{i}"), f"student-{i}")
    return found


# ------------------------------------------------------------------------------------------------ the checks
def test_health_through_nginx(cluster):
    status, headers, body = request(cluster.port, "/_stcore/health")
    assert (status, body) == (200, b"ok")
    assert headers["X-Replica"] in cluster.replicas


def test_first_visit_sets_the_cookie_and_the_browser_stays_on_its_replica(cluster):
    """Twelve first visits: each must already be on the replica its new cookie pins it to (were the first
    request routed by anything else, about half of them would not be)."""
    for _ in range(12):
        status, headers, body = request(cluster.port, "/")
        assert status == 200 and b"<html" in body.lower()
        ours = affinity_cookies(headers)
        assert len(ours) == 1 and "HttpOnly" in ours[0], f"not one affinity cookie: {headers.get_all('Set-Cookie')}"
        value, first = ours[0].split(";")[0].split("=", 1)[1], headers["X-Replica"]
        for path in ["/_stcore/health", "/Translate", "/"]:
            status, again, _ = request(cluster.port, path, value)
            assert status == 200, f"{path} answered {status}"
            assert again["X-Replica"] == first, f"{path} went to {again['X-Replica']}, the first visit to {first}"
            assert not affinity_cookies(again), "a browser that has the cookie must not get a new one"


def test_different_browsers_reach_both_replicas(cluster, pinned):
    assert set(pinned) == set(cluster.replicas), f"64 cookies all went to {set(pinned)}"


def test_websocket_upgrades_on_the_browsers_own_replica(cluster, pinned):
    for replica, cookie in pinned.items():
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        with socket.create_connection(("127.0.0.1", cluster.port), timeout=30) as sock:
            sock.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: 127.0.0.1:{cluster.port}\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: streamlit\r\n"
                          f"Origin: http://127.0.0.1:{cluster.port}\r\nCookie: {COOKIE}={cookie}\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
        lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        assert lines[0].startswith("HTTP/1.1 101"), f"no upgrade through nginx: {lines[0]!r}"
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert fields.get("sec-websocket-accept") == accept
        assert fields.get("x-replica") == replica, f"the websocket went to {fields.get('x-replica')}, not {replica}"


def first_answer(port: int, cookie: str, size: int) -> str:
    """The status line nginx answers an upload of ``size`` bytes that asks ``Expect: 100-continue`` first: nginx
    checks the size before it reads a byte of the body, and the body is never sent, so the replica is not
    involved (a replica refusing a real body early would count as a failed request against it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"PUT /_stcore/upload_file/none/none HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n"
                     f"Expect: 100-continue\r\nCookie: {COOKIE}={cookie}\r\n\r\n".encode())
        return sock.recv(4096).split(b"\r\n")[0].decode("latin-1")


def test_uploads_up_to_streamlits_limit_pass_nginx(cluster, pinned):
    """nginx's default body limit is 1 MB; a 2 MB upload must be let through, and nginx itself must refuse what
    Streamlit would refuse anyway (over its 50 MB)."""
    cookie = next(iter(pinned.values()))
    assert first_answer(cluster.port, cookie, 2 << 20) == "HTTP/1.1 100 Continue", "nginx refused a 2 MB upload"
    assert first_answer(cluster.port, cookie, 51 << 20).startswith("HTTP/1.1 413"), "nginx let a 51 MB upload in"


def test_a_run_in_the_shared_folder_is_listed_by_both_replicas(cluster, pinned):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    name = f"shared-{secrets.token_hex(3)}"
    RunDir(cluster.runs / name).create().write_status("finished", step=5, max_steps=10, name=name,
                                                       message="written by the replica test")
    url = f"http://127.0.0.1:{cluster.port}"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        try:
            for replica, cookie in pinned.items():
                ctx = browser.new_context(viewport={"width": 1300, "height": 1200})
                ctx.add_cookies([{"name": COOKIE, "value": cookie, "url": url}])
                page = ctx.new_page()
                page.set_default_timeout(120_000)
                response = page.goto(f"{url}/Train")
                assert response is not None, "no response to the page's navigation"
                assert response.headers.get("x-replica") == replica, (response.status, response.headers, replica)
                page.wait_for_selector(IDLE)
                sync_api.expect(page.get_by_test_id("stProgress")).to_contain_text(f"{name}: finished · step 5/10",
                                                                                    timeout=120_000)
                assert page.get_by_test_id("stException").count() == 0, f"an exception on {replica}"
                ctx.close()
        finally:
            browser.close()
