# The embc worker image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY embc ./embc
RUN pip install --no-cache-dir .
