# The sujian_router HTTP service on python:3.11-slim.
#   docker build -t sujian-router .
#   docker run --rm -p 8000:8000 sujian-router
#   docker run --rm -p 8000:8000 -v "$PWD/keys.txt:/run/secrets/keys.txt:ro" -v "$PWD/models/mine:/models/mine:ro" \
#       sujian-router serve --host 0.0.0.0 --model /models/mine --api-key-file /run/secrets/keys.txt
# See docs/service.md. The default model (synthetic training data) is built into the image at build time,
# so a container is ready seconds after it starts and downloads nothing at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SUJIAN_ROUTER_HOME=/var/lib/sujian-router

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[serve]" \
    && useradd --system --create-home --home-dir /var/lib/sujian-router sujian

USER sujian
WORKDIR /var/lib/sujian-router
RUN sujian-router build-default

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["sujian-router"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
