# The two set-up commands of the README: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: run test bench clean mosquitto

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m broker $(ARGS)

test: $(STAMP) mosquitto
	$(PY) -m pytest -q -p no:cacheprovider

# MQTT tests start a real Mosquitto (Debian package) on a free loopback port
mosquitto:
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || \
	  (apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null) || \
	  echo "mosquitto could not be installed: the MQTT tests will be skipped"

bench: $(STAMP)
	$(PY) -m benchmarks.entities
	$(PY) -m benchmarks.queries
	$(PY) -m benchmarks.notifications

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
