# privscan: two set-up commands, each works on a fresh machine with nothing installed by hand.
#   make demo   create .venv, install privscan, scan the demo capture
#   make test   the same set-up (plus tshark and chromium when root), then ruff, mypy and pytest
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py | sha256sum | cut -c1-12)
OUT    := out

.PHONY: demo test setup system-tools lint typecheck unit bench fuzz resources clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests use for real: tshark (the second engine, parity tests), chromium
# (the HTML report rendered headless), poppler-utils (pdftoppm: the report printed to PDF, as
# images), iproute2 (network namespaces for the live-capture test), and dnsmasq / BIND's
# named-checkzone / Graphviz to check the blocklists and the DOT graph in the tools that read
# them. Installed when missing and we are root (CI is); otherwise the tests that need them skip
# and say why.
DEBIAN_TOOLS := tshark chromium poppler-utils iproute2 dnsmasq-base bind9-utils graphviz
system-tools:
	@if command -v tshark >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 \
		&& command -v pdftoppm >/dev/null 2>&1 \
		&& command -v named-checkzone >/dev/null 2>&1 && command -v dot >/dev/null 2>&1 \
		&& command -v ip >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian packages: $(DEBIAN_TOOLS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_TOOLS) >/dev/null; \
	else \
		echo "note: tshark/chromium/pdftoppm missing and not root: their tests will be skipped"; \
	fi

demo: setup
	@mkdir -p $(OUT)
	$(BIN)/privscan scan captures/demo.pcap --inventory captures/demo.inventory.yaml \
		--fail-on none -o $(OUT)/demo.html -o $(OUT)/demo.json -o $(OUT)/demo.sarif --format table
	@echo "reports: $(OUT)/demo.html $(OUT)/demo.json $(OUT)/demo.sarif"

lint: setup
	$(BIN)/ruff check scanner tests bench captures

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: setup system-tools lint typecheck unit

bench: setup
	$(BIN)/python bench/run_bench.py

# The standing fuzz campaign (tests/fuzz/campaign.py; not part of `make test`, which runs a
# one-minute slice of it and every kept reproducer): mutated public and project captures and
# scapy-generated traffic for every registered decoder, strict, for FUZZ_BUDGET seconds.
# Findings are minimised into tests/fuzz/repro/; record the run in docs/reliability.md.
FUZZ_SEED   ?= $(shell date +%Y%m%d)
FUZZ_BUDGET ?= 600
fuzz: setup
	PYTHONPATH=tests nice -n 10 $(BIN)/python -m fuzz --seed $(FUZZ_SEED) --budget $(FUZZ_BUDGET)

# Time and peak memory of the resource attacks (flow floods, bombs, ...): bench/resources.py.
resources: setup
	$(BIN)/python bench/resources.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
