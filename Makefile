# The shop's commands. `make run` and `make test` set up everything they need.
VENV ?= .venv
export VENV  # scripts/ run the broker check (tests/rabbitmqctl.py) with its python
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

# Eventlet prints a notice at every start that it is deprecated (nameko 2.14 runs on it).
# extensions/__init__.py filters it, but nameko's own command line (`nameko run`, `nameko
# shell`) imports eventlet before any of the shop's code: EVENTLET_TESTS, eventlet's own
# switch for that one notice, silences it in every process make starts.
export EVENTLET_TESTS ?= 1

MIGRATE := $(BIN)/python -m tools.migrate --config config.yaml

# `make run-postgres`: the machine's PostgreSQL (trust auth, user postgres) unless PG_URI
# names another server; the *_DB_URI in the environment win.
PG_URI ?= postgresql+psycopg2://postgres@localhost:5432
run-postgres reset-postgres: export USERS_DB_URI ?= $(PG_URI)/shop_users
run-postgres reset-postgres: export INVENTORY_DB_URI ?= $(PG_URI)/shop_inventory
run-postgres reset-postgres: export ORDERS_DB_URI ?= $(PG_URI)/shop_orders
run-postgres: MIGRATE_OPTIONS = --create-databases

.PHONY: install migrate run run-postgres reset reset-postgres shell test faults lint format \
	bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

$(SECRETS): | install
	$(BIN)/python -m tools.token_secret new $@

migrate: install
	mkdir -p var
	$(MIGRATE) $(MIGRATE_OPTIONS)

# First the checks (scripts/local_shop.py): a taken port fails the run before it migrates
# or consumes anything, and a missing Consul is said once, here, not by every process.
# Log lines are plain on a terminal, JSON when piped (and in containers); LOG_FORMAT wins.
run: install $(SECRETS)
	@CONSUL_ENABLED=$$($(BIN)/python scripts/local_shop.py preflight) && \
	export CONSUL_ENABLED && \
	$(MIGRATE) $(MIGRATE_OPTIONS) && \
	echo "The demo admin is $$ADMIN_EMAIL; its password is in var/admin-password." && \
	if [ -t 1 ]; then log_format=plain; else log_format=json; fi && \
	LOG_FORMAT=$${LOG_FORMAT:-$$log_format} exec $(BIN)/honcho start --procfile Procfile

# `make run` on PostgreSQL, creating the three databases when they are missing.
run-postgres: run

# Empties the data: every table of the three databases (make run migrates them again) and
# the shop's event queues on AMQP_URI's vhost. .venv and var/'s secrets stay.
reset: install
	@$(BIN)/python scripts/local_shop.py reset

reset-postgres: reset

# nameko shell with the shop's error types imported (scripts/shell_startup.py): nameko
# turns a remote error into its own class only when the class is registered.
shell: install
	@PYTHONSTARTUP=scripts/shell_startup.py $(BIN)/nameko shell --config config.yaml

test: install
	scripts/ensure-test-services.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/test.sh

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
	# Quorum against classic RPC queues, on one node and on a three-node cluster (as root).
	$(BIN)/python -m bench.rpc_queues --output bench/results/rpc_queues.json
	# Orders/s with one and two processes per service on the cluster (docs/scaling.md).
	$(BIN)/python -m bench.scale_out --output bench/results/scale_out.json
	# CPU per confirmed order by process, against the revision before issue 13's
	# work, run A B B A with this tree three times, and the saga's floor (about 20 minutes).
	$(BIN)/python -m bench.order_path --baseline $(ORDER_PATH_BASELINE)

clean:
	rm -rf $(VENV) var
