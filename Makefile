# The two commands: `make run` starts the service, `make test` runs every test.
# Both create the Python 3.10 environment and train the Rasa model when missing or stale.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
MODEL := models/padang.tar.gz
# Rasa 3.6 runs on Python 3.10 only: take the first interpreter that really is 3.10.
PYTHON310 ?= $(shell for p in python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) \
	/usr/local/bin/python3.10 /usr/bin/python3.10; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 \
	&& { echo "$$p"; break; }; done)
# What the model is trained from; data/seed/ holds city records, not training data.
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' -not -path 'data/seed/*') \
	$(wildcard nlu/*.py nlu/resources/*)

.PHONY: run test setup model browser lint lock bench clean

run: setup model
	$(PY) -m bot serve

test: setup model browser
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no test: that is a failure."; exit 1; fi; \
	exit $$status

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	@if [ -z "$(PYTHON310)" ]; then \
		echo "Python 3.10 was not found (Rasa 3.6 needs it): install python3.10 and retry."; \
		exit 1; fi
	@[ -x $(PY) ] || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

model: $(MODEL)

# `rasa train` also compares its own fingerprint and reuses unchanged components.
$(MODEL): $(VENV)/.installed $(TRAINING_INPUTS)
	$(VENV)/bin/rasa train --fixed-model-name padang --out models --num-threads 2
	touch $@

# The console tests drive Debian's Chromium; as root it is installed when missing.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else echo "Chromium is missing (/usr/bin/chromium): the browser tests will not run."; fi; \
	fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

lock: setup
	$(PY) -m pip freeze --exclude-editable > requirements.lock

# Figures, not pass/fail: each script prints its own (see README, "Figures").
bench: setup model
	$(PY) -m bench.nlu_core
	$(PY) -m bench.actions
	$(PY) -m bench.gateway
	$(PY) -m bench.gateway_alone

clean:
	rm -rf models .pytest_cache
