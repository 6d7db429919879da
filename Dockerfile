# The embc service image used by docker-compose.yml (`embc serve`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY embc ./embc
RUN pip install --no-cache-dir .
