# uiflow: two commands. `make dev` brings the whole system up on the embedded default;
# `make test` runs the whole suite (PostgreSQL and Temporal included). Both install what they need.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install dev test test-as-of clock-tools lint typecheck check browser fonts postgres bytecode clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# Debian's Chromium and CJK fonts for the browser tests (Playwright's own browser download cannot
# work here; without the fonts, screenshots show boxes instead of Chinese).
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk"; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "chromium or CJK fonts missing: run 'sudo apt-get install chromium fonts-noto-cjk'" >&2; exit 1; fi; }

# The CJK font the official notices embed (activities/notices.py: Noto Serif CJK SC from Debian's
# fonts-noto-cjk, subset into each PDF by fpdf2). Every machine that runs a worker needs it; elsewhere
# set UIFLOW_NOTICE_FONT to a TTF/OTF/TTC path (``file.ttc#index`` for one face of a collection).
fonts:
	@fc-list 2>/dev/null | grep -qi "Noto Serif CJK SC" || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fontconfig fonts-noto-cjk >/dev/null; \
	  else echo "CJK fonts missing: run 'sudo apt-get install fonts-noto-cjk'" >&2; exit 1; fi; }

# The PostgreSQL server the tests use (127.0.0.1:5432); started if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }

# Compiled bytecode for the project's modules: where PYTHONDONTWRITEBYTECODE is set (as here), the
# workflow sandbox would otherwise compile workflow modules from source for every new workflow
# (measured: ~22 ms CPU per workflow instance, 23% slower replay; docs/benchmarks.md).
bytecode: install
	@$(BIN)/python -m compileall -q models policy workflows activities core api cli workers sim >/dev/null

dev: install fonts bytecode
	$(BIN)/uiflow dev

test: install browser fonts postgres bytecode
	$(BIN)/python -m pytest -q

# The suite as of another date (issue 22): `make test-as-of DATE=2027-02-15 [ARGS="tests/bench -x"]`.
# Every process's clock moved by libfaketime, the Go dev server under qemu (scripts/test-as-of says why).
DATE ?= 2027-02-15
ARGS ?= -q
test-as-of: install browser fonts postgres bytecode clock-tools
	scripts/test-as-of "$(DATE)" $(ARGS)

clock-tools:
	@{ command -v faketime >/dev/null 2>&1 && command -v qemu-$$(uname -m) >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime qemu-user >/dev/null; \
	  else echo "faketime or qemu-user missing: run 'sudo apt-get install faketime qemu-user'" >&2; exit 1; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy models policy workflows activities workers api core cli sim

check: lint typecheck test

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache build *.egg-info
