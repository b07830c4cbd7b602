# Two commands a new machine needs: `make test` and `make demo`. Both set up .venv first and
# are quick when it is already there (the stamp is re-made only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-pg lint demo bench wheel-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,test]'
	touch $(STAMP)

# Three workers on two cores, work-stealing: the two longest tests (a sixty-second outage, which
# mostly waits, and twenty SIGKILLs of a real sync) run beside the rest instead of after it.
# The storage tests run on PostgreSQL too when ATTIO_SYNC_TEST_PG names a server (a SQLAlchemy
# URL whose user may create databases); without it they are skipped, and the summary says so.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 3 --dist worksteal

# Only the PostgreSQL tests, on a throw-away server that .ci/postgres starts and removes
# (it installs Debian's postgresql package first when initdb is missing).
test-pg: $(STAMP)
	bash .ci/postgres run $(BIN)/python -m pytest -q -n 3 --dist worksteal -m postgres

# The code-health checks CI runs before the tests: ruff (configured in pyproject.toml) and
# mypy --strict over the whole package.
lint: $(STAMP)
	$(BIN)/ruff check toolkit tests bench examples migrations
	$(BIN)/python -m mypy

demo: $(STAMP)
	$(BIN)/attio-sync demo

bench: $(STAMP)
	$(BIN)/python bench/schema_pull.py
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/sync_throughput.py
	$(BIN)/python bench/sync_requests.py
	$(BIN)/python bench/sync_memory.py
	$(BIN)/python bench/dry_run.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/history.py

# A non-editable install in a throw-away venv: proves the migrations ship inside the wheel.
wheel-check: $(STAMP)
	bash .ci/wheel-check

clean:
	rm -rf $(VENV) build *.egg-info
