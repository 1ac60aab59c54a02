# The worker image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /opt/strongbox
COPY pyproject.toml README.md ./
COPY actors actors
COPY plugins plugins
COPY banks banks
COPY config config
RUN pip install --no-cache-dir . && useradd --system strongbox
ENV STRONGBOX_PROVIDERS_DIR=/opt/strongbox/config/providers.d
USER strongbox
CMD ["strongbox", "worker"]
