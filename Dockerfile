# The worker image used by docker-compose.yml, built from the wheel as any installation
# would be: the first stage builds the wheel from this checkout, the second installs it
# (with the extras named by EXTRAS: all, openstack, s3, or "" for the core alone) and
# nothing else of the checkout. The shipped provider files travel in the wheel.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ARG EXTRAS=all
COPY --from=wheel /dist /dist
RUN wheel="$(ls /dist/strongbox-*.whl)" \
    && pip install --no-cache-dir "${wheel}${EXTRAS:+[$EXTRAS]}" \
    && rm -r /dist && useradd --system strongbox
USER strongbox
# /metrics, /healthz and /readyz (strongbox worker --metrics-port; docs/operations.md)
ENV STRONGBOX_METRICS_PORT=9464 STRONGBOX_METRICS_ADDRESS=0.0.0.0
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:9464/readyz', timeout=4).status != 200)"]
CMD ["strongbox", "worker"]
