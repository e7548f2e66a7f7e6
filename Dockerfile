# One image for the API (default CMD), the worker (`python worker.py`) and migrations (`python -m migrate`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so a source edit does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The whole tree, less what .dockerignore keeps out (.git, .venv, var, tests, caches): naming
# folders one by one left web/ and scoring/ behind and the API could not import.
# tests/deploy/test_image.py starts all three commands from exactly these files.
COPY . .
# Bytecode compiled once here: the image writes none at run time (PYTHONDONTWRITEBYTECODE, and
# /app is not the user's), and the worker's sandbox imports a workflow's modules afresh for
# every workflow it starts, compiling them from source each time when no bytecode is there.
RUN pip install --no-cache-dir --no-deps . && rm -rf build *.egg-info \
 && python -m compileall -q /app

# Unprivileged user; /data is the only place it writes (a named volume mounted there inherits the owner).
RUN useradd --system --uid 10001 --home-dir /app axis && mkdir /data && chown axis /data
USER axis
ENV AXIS_DATA_DIR=/data

EXPOSE 8000
# slim has no curl; the worker and migrate services disable this check in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]
