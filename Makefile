# jiedai — set-up, demo and tests on a Debian/Ubuntu machine.
#
#   make demo   set up, create the database, deploy the diagrams, load demo users, serve
#   make test   set up, then ruff check . and the whole pytest suite (browser tests too)
#
# Set-up is idempotent: stamp files record what is done and are compared with
# pyproject.toml, package.json and package-lock.json, so a second run takes about a second.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.jiedai-installed
WEB_STAMP := web/static/vendor/.jiedai-installed
PO_FILES := $(wildcard web/translations/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)

HOST ?= 127.0.0.1
PORT ?= 5000
# make demo DEMO_PASSWORD=...: every demo user gets that password.
DEMO_PASSWORD ?=
# make test PYTEST_ARGS='-x tests/engine': arguments for pytest.
PYTEST_ARGS ?=
# Printed once by `jiedai demo` when it creates the users; kept here (mode 600, gitignored).
DEMO_LOG := instance/demo-users.txt

# Playwright must never fetch a browser: the tests drive Debian's /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

.PHONY: help setup system-deps demo test lint clean

help:
	@echo "make demo    set up, init the database, load demo users and serve on http://$(HOST):$(PORT)"
	@echo "make test    set up, then ruff check . and pytest (incl. browser tests)"
	@echo "make setup   virtualenv, Python and npm packages, Debian packages, translations"
	@echo "make lint    ruff check ."
	@echo "make clean   remove .venv node_modules web/static/vendor instance"

setup: system-deps $(PY_STAMP) $(WEB_STAMP) $(MO_FILES)

system-deps:
	@bash scripts/system-deps.sh

$(PY_STAMP): pyproject.toml scripts/python-venv.sh | system-deps
	@bash scripts/python-venv.sh
	@touch $@

$(WEB_STAMP): package.json $(wildcard package-lock.json) scripts/web-assets.sh
	@bash scripts/web-assets.sh
	@touch $@

# Flask-Babel catalogues: the .mo files are build output (gitignored).
web/translations/%.mo: web/translations/%.po | $(PY_STAMP)
	$(BIN)/pybabel compile -f -i $< -o $@

demo: setup
	@mkdir -p instance
	$(BIN)/jiedai init
	@umask 077; \
	 out=$$($(BIN)/jiedai demo $(if $(DEMO_PASSWORD),--password '$(DEMO_PASSWORD)') 2>&1) \
	   || { echo "$$out" >&2; exit 1; }; \
	 echo "$$out"; \
	 { echo "== jiedai demo, $$(date -Is)"; echo "$$out"; } >> $(DEMO_LOG)
	@echo
	@echo "jiedai is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo "Demo users are named after their roles (front_clerk, manager_assistant, project_manager, ...,"
	@echo "sup_security, ...). Their passwords are printed by 'jiedai demo' when it creates them,"
	@echo "and kept in $(DEMO_LOG). make demo DEMO_PASSWORD=... passes --password to 'jiedai demo'."
	@echo
	exec $(BIN)/jiedai serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(PY_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules web/static/vendor instance $(MO_FILES)
