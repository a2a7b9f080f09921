# NMT Studio in a container: one studio replica (docs/deploy.md). Run many behind nginx with deploy/compose.yaml
# or deploy/kubernetes.yaml; every replica must mount the same volume at /data/runs.
#
#   docker build -t nmt-studio .
#   docker run --rm -p 8501:8501 -v nmt-runs:/data/runs nmt-studio
#
# CPU build of torch (the pinned version from requirements.txt, from PyTorch's CPU wheel index: the default
# index would pull the multi-GB CUDA build). For NVIDIA GPUs pass the CUDA wheel index that matches your driver,
# --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cuXYZ, and run the container with --gpus all.
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    NMT_STUDIO_RUNS=/data/runs

# tini as PID 1: it forwards SIGTERM to Streamlit and reaps orphaned grandchildren of training jobs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so a code change does not reinstall torch. The test and tooling pins (the last section
# of requirements.txt) stay out of the image; tests/test_deploy.py checks that no runtime pin is left out.
COPY requirements.txt ./
RUN pip install --index-url "$TORCH_INDEX" "$(grep '^torch==' requirements.txt)" \
    && grep -vE '^(torch|pytest|pytest-timeout|hypothesis|playwright|ruff)==' requirements.txt > /tmp/runtime.txt \
    && pip install -r /tmp/runtime.txt \
    && rm /tmp/runtime.txt

COPY .streamlit/ .streamlit/
COPY nmt_core/ nmt_core/
COPY studio/ studio/
COPY pages/ pages/
COPY app.py ./
COPY checkpoints/ checkpoints/
COPY configs/ configs/
COPY docs/ docs/

# An unprivileged user owns the runs folder; a fresh named volume mounted there inherits this ownership.
RUN useradd --create-home --uid 1000 studio \
    && mkdir -p /data/runs \
    && chown studio:studio /data/runs
USER studio
VOLUME ["/data/runs"]

EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "studio.serve", "--server.port", "8501", "--browser.gatherUsageStats", "false", \
     "--server.address", "0.0.0.0", "--server.headless", "true", "--server.fileWatcherType", "none"]
