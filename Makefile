# The shop's commands. `make run` and `make test` set up everything they need.
VENV ?= .venv
PYTHON ?= python3.11
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# This checkout's own secrets, made at random once into var/ (git-ignored) and read when a
# recipe runs: the token secret (the shop refuses a missing, short or published one) and
# the demo admin's password. Values in the environment win. The tests make their own.
SECRETS := var/jwt-secret var/admin-password
export JWT_SECRET ?= $(file < var/jwt-secret)
export ADMIN_EMAIL ?= admin@example.com
export ADMIN_PASSWORD ?= $(file < var/admin-password)

.PHONY: install migrate run test faults lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

$(SECRETS): | install
	$(BIN)/python -m extensions.token_secret new $@

migrate: install
	mkdir -p var
	$(BIN)/python -m extensions.migrate --config config.yaml

run: migrate $(SECRETS)
	@echo "The demo admin is $$ADMIN_EMAIL; its password is in var/admin-password."
	$(BIN)/honcho start --procfile Procfile

test: install
	scripts/ensure-test-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The fault-injection suite alone (it is part of `make test` too).
faults: install
	scripts/ensure-test-services.sh
	$(BIN)/pytest tests/faults

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The order path's baseline: main when issue 13 (CPU per confirmed order) began.
ORDER_PATH_BASELINE ?= c8d7799f15df14b04c8a2082919b335359074029

# Throughput of one service with every observability extension on versus off.
bench: install var/jwt-secret
	scripts/ensure-test-services.sh
	$(BIN)/python -m bench.extensions_overhead --output bench/results/extensions_overhead.json
	# The gateway against two peer gateways over the same services (a few minutes).
	$(BIN)/python -m bench.gateway
	# What each gateway feature costs in CPU per request.
	$(BIN)/python -m bench.gateway_costs
	# CPU per confirmed order by process, against the revision before issue 13's
	# work, run alternately with this tree, and the saga's floor (about 20 minutes).
	$(BIN)/python -m bench.order_path --baseline $(ORDER_PATH_BASELINE)

clean:
	rm -rf $(VENV) var
