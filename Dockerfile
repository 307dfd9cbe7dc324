# LearnGuard: the API (and, with another command, a stream worker) on a slim Python image.
# Build: docker build -t learnguard .   Run: see compose.yaml (Redis with AOF, API, workers, Prometheus).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY learnguard ./learnguard
COPY features ./features
COPY models ./models
COPY detector ./detector
COPY service ./service
COPY api ./api
COPY simulator ./simulator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEARNGUARD_HOST=0.0.0.0 \
    LEARNGUARD_PORT=8000 \
    LEARNGUARD_DATA_DIR=/var/lib/learnguard
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /var/lib/learnguard --create-home learnguard
USER 10001
WORKDIR /var/lib/learnguard
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]
ENTRYPOINT ["learnguard"]
CMD ["serve", "--workers", "0"]
