# The two commands of the README, and the benchmarks. Each sets itself up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint chaos bench bench-transport bench-chunks bench-cloud bench-listing devcloud-up devcloud-down devcloud-status test-cloud

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,test]'
	touch $@

# Debian tools some tests drive, each from the smallest package that has it (README,
# "What make test installs"): amqp-publish (a client that is not ours publishes a
# request), docker-compose (checks docker-compose.yml; without recommends, so no Docker
# engine), script (a terminal for the CLI), qemu-img (Cinder's upload of a volume to an
# image, in the real-cloud tier), dot (SVG graphs), prometheus and promtool (a real
# Prometheus scrapes the workers; the alert rules and dashboard queries are checked).
# Installed when missing, only as root on a Debian machine, never with recommended
# packages; checked again when this file changes.
SYSTEM_TOOLS := amqp-publish=amqp-tools docker-compose=docker-compose script=util-linux \
	qemu-img=qemu-utils dot=graphviz prometheus=prometheus promtool=prometheus
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

$(VENV)/.system-tools: Makefile
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%=*} >/dev/null || missing="$$missing $${pair#*=}"; done; \
	missing="$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' ')"; \
	if [ -z "$${missing% }" ]; then touch $@; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages (as root, without recommends): $$missing"; \
	  ($(APT_INSTALL) $$missing || (apt-get update -qq && $(APT_INSTALL) $$missing)) \
	    >/dev/null && touch $@; \
	else echo "not installed (the tests that need them skip, except under CI): $$missing"; fi

# Protect a sample directory tree and restore it elsewhere, embedded, then compare.
demo: $(BIN)/.installed
	$(BIN)/strongbox demo

# Lint, types, and the whole test suite (the broker tests need RabbitMQ: see README), then
# the real-cloud tier: it starts a dev cloud of its own (docs/devcloud.md; its venv is
# cached in ~/.cache/strongbox/devcloud, so only a machine's first run installs it).
test: $(BIN)/.installed $(VENV)/.system-tools lint
	$(BIN)/pytest -q -m "not cloud"
	$(BIN)/pytest -q -m cloud tests/cloud

# ruff, mypy strict, and the layering contracts of pyproject.toml's [tool.importlinter]
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

# 200 chaos trials on a private RabbitMQ node and real worker processes (root, the Debian
# rabbitmq-server): a table of faults, outcomes, hung operations, mismatches, recovery times.
# make test runs 20 of them (tests/chaos/test_chaos_short.py).
TRIALS ?= 200
chaos: $(BIN)/.installed
	$(BIN)/python -m tests.chaos --trials $(TRIALS)

bench: $(BIN)/.installed
	$(BIN)/python -m bench.engine_bench

# A real OpenStack (Keystone, Glance, Cinder, Placement, Nova, Neutron, Manila; Trove emulated)
# on 127.0.0.1: docs/devcloud.md
devcloud-up: $(BIN)/.installed
	$(BIN)/python -m tests.devcloud up

devcloud-down: $(BIN)/.installed
	$(BIN)/python -m tests.devcloud down

devcloud-status: $(BIN)/.installed
	$(BIN)/python -m tests.devcloud status

test-cloud: $(BIN)/.installed
	$(BIN)/pytest -q -m cloud tests/cloud

# Raw aio-pika round trips against Strongbox actor transitions, 1 and 3 workers (needs RabbitMQ).
bench-transport: $(BIN)/.installed
	PYTHONPATH=. $(BIN)/python -m bench.transport_bench

# `checkpoints list` over 300 checkpoints: a plaintext bank against a sealed one (encrypted store)
bench-listing: $(BIN)/.installed
	PYTHONPATH=. $(BIN)/python -m bench.listing_bench

# Strongbox against restic on a generated tree (2 GB; SIZE_MB=500 for less): backup,
# unchanged re-backup, restore; MB/s and bytes stored. Installs restic if it can.
SIZE_MB ?= 2000
bench-chunks: $(BIN)/.installed
	@command -v restic >/dev/null || $(APT_INSTALL) restic || true
	PYTHONPATH=. $(BIN)/python -m bench.chunk_bench --size-mb $(SIZE_MB)

# A Cinder volume's bytes through the chunk store (os-volume-bytes: protect, protect
# unchanged, protect after a 5% rewrite, restore) against a raw Glance download of it, and
# os-volume-backup for comparison, on a dev cloud of Keystone, Glance, Placement and Cinder
# (started here if it is not running; left running: `python -m tests.devcloud --state
# $(CLOUD_STATE) down` stops it). SIZE_MIB=256 for less content (the volume stays 1 GiB).
CLOUD_STATE ?= $(HOME)/.cache/strongbox/devcloud/bench-state
CLOUD_PORT_OFFSET ?= 30000
SIZE_MIB ?= 1024
# then again behind a 1 Gbit/s link to Glance (tc on loopback, as root; LINK_GBIT= skips it)
LINK_GBIT ?= 1
bench-cloud: $(BIN)/.installed $(VENV)/.system-tools
	$(BIN)/python -m tests.devcloud --state $(CLOUD_STATE) --port-offset $(CLOUD_PORT_OFFSET) \
	  up --services keystone,glance,placement,cinder
	PYTHONPATH=. $(BIN)/python -m bench.cloud_bench --state $(CLOUD_STATE) --size-mib $(SIZE_MIB) \
	  $(foreach rate,$(LINK_GBIT),--link-gbit $(rate))
