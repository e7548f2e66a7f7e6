# Two commands: `make run` starts the product, `make test` runs the suite. Each sets up its own
# virtual environment from pyproject.toml the first time (and again when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run worker test lint format roster account histories clean bench

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(INSTALLED)
	$(BIN)/python run.py

worker: $(INSTALLED)
	$(BIN)/python worker.py

# The suite in TEST_PROCESSES processes (pytest-xdist): the tests of each database backend in one,
# the others module by module in whichever is free (tests/parallel.py). TEST_PROCESSES=0: one.
TEST_PROCESSES ?= 2
test: $(INSTALLED) chromium
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadscope $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# make roster FILE=people.csv [INVITE=1 [LINKS=1]]: INVITE opens an account for every roster
# person without one and emails their setup links; LINKS=1 also prints the links.
roster: $(INSTALLED)
	$(BIN)/python -m db.roster import $(FILE)
	$(if $(INVITE),$(BIN)/python -m accounts_cli invite $(if $(LINKS),--show-links))

# make account USERNAME=vp.nguyen NAME="Nguyễn Văn A" [EMAIL=...] [ROLE=steering_office]
# [COMMUNE=24133]: one account; its setup link is printed once (the first office account).
account: $(INSTALLED)
	$(BIN)/python -m accounts_cli create --username "$(USERNAME)" --name "$(NAME)" \
	  --role "$(or $(ROLE),steering_office)" $(if $(EMAIL),--email "$(EMAIL)") \
	  $(if $(COMMUNE),--commune "$(COMMUNE)")

.PHONY: backup restore reconcile

# make backup [DIR=...]: the read model (pg_dump or SQLite's online backup) and, on the embedded
# defaults, the dev server's database, into a timestamped folder under AXIS_DATA_DIR/backups.
backup: $(INSTALLED)
	$(BIN)/python -m db.backup create $(if $(DIR),--dir "$(DIR)")

# make restore FILE=var/backups/<folder> [TEMPORAL=1]: with the product stopped. TEMPORAL=1 also
# puts back the dev server's database (the whole data directory was lost).
restore: $(INSTALLED)
	$(BIN)/python -m db.backup restore "$(FILE)" $(if $(TEMPORAL),--with-temporal)

# After a restore: write what the workflows did since the backup (the API also runs it at start).
reconcile: $(INSTALLED)
	$(BIN)/python -m services.catchup reconcile

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# Recorded histories go into a new version folder, never over an existing file
# (tests/histories/README.md): make histories [HISTORIES_VERSION=<name>], today's date by default;
# a second version shipped the same day: HISTORIES_VERSION=YYYY-MM-DDb.
HISTORIES_VERSION ?= $(shell date -u +%F)
histories: $(INSTALLED)
	$(BIN)/python -m tests.histories.record $(HISTORIES_VERSION)
	$(BIN)/python -m tests.histories.record_procedures $(HISTORIES_VERSION)

.PHONY: recompute bench-rollup test-browser chromium

# The pages in headless Chromium (Debian's package; Playwright drives it, downloads nothing).
# Installed when missing and this is root on Debian; elsewhere the browser test says it skipped.
chromium:
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
	  echo "chromium could not be installed: the browser test will be skipped"

test-browser: $(INSTALLED) chromium
	$(BIN)/python -m pytest -s tests/browser $(PYTEST_ARGS)

# make recompute PERIOD=2026-Q4 RULES=v2  (RULES empty: the rule set in effect)
recompute: $(INSTALLED)
	$(BIN)/python -m services.scoring recompute --period $(PERIOD) $(if $(RULES),--rules $(RULES))

bench-rollup: $(INSTALLED)
	$(BIN)/python -m bench.rollup $(if $(QUICK),--quick)

# The product against the raw ceiling on the same server and database (BENCH_QUICK=1: quick).
bench: $(INSTALLED)
	$(BIN)/python -m bench.run

.PHONY: promtool test-rules

# promtool checks and unit-tests the alerting rules (Debian's `prometheus` package carries it;
# without recommends it adds only the web UI's scripts, and policy-rc.d keeps the daemon from
# starting). Installed when missing and this is root on Debian; elsewhere test-rules says so.
promtool:
	@command -v promtool >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus || \
	  { apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus; } || \
	  echo "promtool could not be installed: make test-rules will fail, the pytest test skip"

# The alerting rules are valid and every alert fires on its series and stays quiet on its other.
# The scrape config's syntax too (its token file exists only inside the container).
test-rules: promtool
	promtool check config --syntax-only deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/alerts.yml
	cd deploy/prometheus && promtool test rules alerts_test.yml
