# markwatch: the two commands of the README live here.
#   make demo   set everything up, then run one monitoring cycle against the bundled
#               offline demo marketplace and write a report under demo-output/
#   make test   set everything up, start the services the tests need, run the suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := chromium fonts-wqy-microhei redis-server postgresql
PYTEST_ARGS ?=

.PHONY: install system-packages demo test lint clean

install: system-packages $(VENV)/.installed

# Debian packages the project needs: Chromium for Playwright (spiders, evidence,
# UI tests), a CJK font for screenshots of Chinese pages, Redis and PostgreSQL
# for the scale-out path. Installed only when missing.
system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: install
	$(BIN)/markwatch demo

test: install
	bash .ci/with-services.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check crawler spiders matching alerts tests benchmarks

clean:
	rm -rf $(VENV) demo-output test-artifacts .pytest_cache
