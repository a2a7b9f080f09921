"""The container image and the deployment recipes (Dockerfile, deploy/), checked without Docker or a cluster.

Docker is not on every machine that runs the suite, so these read the files: the image must run what ``make app``
runs, on the port it exposes and health-checks, with every file the app imports; the replicas of the compose and
Kubernetes recipes must share one runs volume and one cookie secret; and nginx, the Ingress and Streamlit must
agree on the upload limit. tests/test_replicas_nginx.py runs deploy/nginx.conf for real (opt-in).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    rows = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def only(name: str) -> str:
    found = [args for word, args in instructions() if word == name]
    assert len(found) == 1, f"the Dockerfile has {len(found)} {name} instructions, expected 1"
    return found[0]


def flags(argv: list[str]) -> dict[str, str]:
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}


def streamlit_upload_mb() -> int:
    return int(tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))["server"]
               ["maxUploadSize"])


# ------------------------------------------------------------------------------------------------ the image
def test_the_image_runs_what_make_app_runs_on_its_exposed_and_checked_port():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    default_port = re.search(r"^PORT \?= (\d+)$", makefile, re.M).group(1)
    recipe = re.search(r"^app:.*\n\t(.*)$", makefile, re.M).group(1).replace("$(PORT)", default_port)
    make_argv = shlex.split(recipe)[1:]  # after $(BIN)/python
    cmd = json.loads(only("CMD"))
    assert cmd[0] == "python" and cmd[1:3] == make_argv[:2] == ["-m", "studio.serve"], cmd
    missing = {k: v for k, v in flags(make_argv).items() if flags(cmd).get(k) != v}
    assert not missing, f"the image's CMD differs from `make app` in {missing}"
    assert flags(cmd)["--server.address"] == "0.0.0.0", "bound to loopback, the replica is unreachable from nginx"
    assert only("EXPOSE") == flags(cmd)["--server.port"] == default_port
    assert f"127.0.0.1:{default_port}/_stcore/health" in only("HEALTHCHECK")
    assert json.loads(only("ENTRYPOINT"))[0].endswith("/tini"), "PID 1 must reap the training jobs' orphans"


def copied_paths() -> list[str]:
    sources = []
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from"):
            sources += shlex.split(args)[:-1]
    return sources


def test_every_copied_path_exists_and_is_in_the_build_context():
    ignored = [p.strip().rstrip("/") for p in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if p.strip() and not p.startswith("#")]
    for source in copied_paths():
        path = source.rstrip("/")
        assert (ROOT / path).exists(), f"the Dockerfile copies {source}, which does not exist"
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), f".dockerignore drops {source}"
    for private in (".venv", ".peer-venv", "data", "runs", "artifacts", ".git"):
        assert private in ignored, f".dockerignore must keep {private} out of the build context"


def test_the_image_holds_every_local_module_the_app_imports():
    copied = {p.rstrip("/") for p in copied_paths()}
    code = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "studio").rglob("*.py"),
            *(ROOT / "nmt_core").rglob("*.py")]
    wanted = set()
    for path in code:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            wanted |= {n.split(".")[0] for n in names}
    local = {m for m in wanted if (ROOT / m).is_dir() or (ROOT / f"{m}.py").exists()}
    missing = local - {c.removesuffix(".py") for c in copied}
    assert not missing, f"the app imports {sorted(missing)}, which the Dockerfile does not copy"


def test_the_image_installs_every_runtime_pin_and_the_cpu_torch():
    run = " ".join(args for word, args in instructions() if word == "RUN")
    left_out = set(re.search(r"grep -vE '\^\(([^)]*)\)=='", run).group(1).split("|"))
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    tooling_at = lines.index("# tests and tooling")
    tooling = {line.split("==")[0] for line in lines[tooling_at:] if "==" in line}
    assert left_out == tooling | {"torch"}, f"runtime pins left out of the image: {left_out - tooling - {'torch'}}"
    assert "--index-url \"$TORCH_INDEX\" \"$(grep '^torch==' requirements.txt)\"" in run
    assert only("ARG") == "TORCH_INDEX=https://download.pytorch.org/whl/cpu"


# ------------------------------------------------------------------------------------------------ the recipes
def test_compose_replicas_share_the_runs_volume_and_the_cookie_secret():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    studio, nginx = compose["services"]["studio"], compose["services"]["nginx"]
    assert (ROOT / "deploy" / studio["build"]["context"] / studio["build"]["dockerfile"]).resolve() == DOCKERFILE
    volume, target = studio["volumes"][0].split(":")
    assert volume in compose["volumes"] and target == studio["environment"]["NMT_STUDIO_RUNS"]
    assert "NMT_STUDIO_COOKIE_SECRET:?" in studio["environment"]["STREAMLIT_SERVER_COOKIE_SECRET"]
    assert studio["expose"] == [only("EXPOSE")]
    conf, mounted = nginx["volumes"][0].split(":")[:2]
    assert (ROOT / "deploy" / conf).resolve() == ROOT / "deploy" / "nginx.conf"
    assert mounted == "/etc/nginx/nginx.conf"
    assert f"server studio:{only('EXPOSE')} " in (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")


def test_nginx_passes_uploads_up_to_streamlits_limit():
    conf = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert f"client_max_body_size {streamlit_upload_mb()}m;" in conf


def test_kubernetes_pods_share_a_read_write_many_volume_and_stick_to_their_clients():
    docs = {d["kind"]: d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text("utf-8"))}
    claim, pod = docs["PersistentVolumeClaim"], docs["Deployment"]["spec"]["template"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    runs = [v for v in pod["spec"]["volumes"] if v["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]]
    mount = next(m for m in container["volumeMounts"] if m["name"] == runs[0]["name"])
    assert mount["mountPath"] == env["NMT_STUDIO_RUNS"]["value"]
    assert "secretKeyRef" in env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]
    port = container["ports"][0]["containerPort"]
    assert str(port) == only("EXPOSE")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/_stcore/health", "port": port}
    service, ingress = docs["Service"], docs["Ingress"]
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    assert service["spec"]["selector"] == pod["metadata"]["labels"]
    assert service["spec"]["ports"][0]["targetPort"] == port
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == f"{streamlit_upload_mb()}m"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]


def test_the_launcher_loads_the_libraries_and_hands_over_to_streamlit_run():
    """``python -m studio.serve`` (make app, the image) preloads, then is ``streamlit run app.py`` with its flags."""
    done = subprocess.run([sys.executable, "-m", "studio.serve", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NMT Studio: libraries loaded in" in done.stderr
    assert "run [OPTIONS] [TARGET] [ARGS]" in done.stdout and "Run a Python script" in done.stdout
