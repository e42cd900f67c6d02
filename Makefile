# Two commands: `make run` (the app on embedded defaults) and `make test` (the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test install clean

run: $(VENV)/.runtime
	@sh config/ensure-ocr.sh
	$(PY) manage.py serve

test: $(VENV)/.dev
	@sh tests/ensure-chromium.sh
	@sh tests/ensure-axe.sh
	@sh config/ensure-ocr.sh
	SCREENSHOT_DIR=$${SCREENSHOT_DIR:-$(CURDIR)/var/screenshots} DJANGO_SETTINGS_MODULE=config.settings_test $(PY) -m pytest -p no:cacheprovider -rs tests $(PYTEST_ARGS)

install: $(VENV)/.runtime

$(PY):
	@python=$$(sh config/find-python.sh) && echo "Creating $(VENV) with $$python" && "$$python" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $(VENV)/.runtime $@

clean:
	rm -rf $(VENV) var

# `make bench` (issue 6): every benchmark in bench/, numbers in BENCHMARKS.md. The history is the
# issue's full size by default (100000 comparisons, 500000 results); HISTORY_N=20000 makes it quicker.
.PHONY: bench
bench: $(VENV)/.dev
	BENCH_COMMAND="make bench$(if $(HISTORY_N), HISTORY_N=$(HISTORY_N))" $(PY) -m bench.run
