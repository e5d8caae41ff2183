# fleetops.docker -- two commands matter: `make run` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV       := .venv
BIN        := $(CURDIR)/$(VENV)/bin
COLL       := collections/ansible_collections/fleetops/docker
FLEET      := $(BIN)/python tests/fleet/fleet.py
NOXDIR     := $(CURDIR)/build/nox
NOX        := cd $(COLL) && $(BIN)/nox --envdir $(NOXDIR) -R --nocolor
# The fleet's pytest suites: a test still running after 25 minutes has hung; it fails with its stack.
PYTEST     := $(BIN)/python -m pytest -q -p no:cacheprovider --timeout=1500
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export ANSIBLE_FORCE_COLOR ?= 0

.PHONY: help run test venv unit sanity lint docs build-check changelog harness faults fleet-runs molecule molecule-fleet molecule-amazon rpm-faults bench fleet-up clean

help:
	@echo "make run    provision the local test fleet, print the fleet table and the HTML report's path"
	@echo "make test   every test: unit, sanity, lint, docs, build, harness, molecule"
	@echo "finer: venv unit sanity lint docs build-check changelog harness fleet-runs molecule molecule-fleet molecule-amazon rpm-faults bench clean"

## ---------------------------------------------------------------- setup
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q || true; DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv; \
	  else echo "python3 with venv is needed (Debian: apt-get install python3-venv)"; exit 1; fi; \
	fi
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	@touch $@

## ---------------------------------------------------------------- the two commands
run: venv
	$(FLEET) up
	@rc=0; $(BIN)/ansible-playbook playbooks/site.yml || rc=$$?; \
	  latest="$$(ls -t reports/fleet-*.txt 2>/dev/null | head -n 1)"; \
	  if [[ -n "$$latest" ]]; then echo; cat "$$latest"; fi; exit $$rc

test: venv
	$(FLEET) engine  # first, so the unit tests that read a real dockerd run rather than skip
	$(MAKE) unit sanity lint docs build-check changelog harness fleet-runs molecule molecule-fleet molecule-amazon rpm-faults faults
	@echo "make test: every gate passed"

## ---------------------------------------------------------------- gates (tests/quality)
unit: venv
	tests/quality/unit.sh

sanity: venv
	tests/quality/sanity.sh

lint: venv $(NOXDIR)/.toml
	tests/quality/lint.sh
	$(NOX) -e extra-checks

docs: venv $(NOXDIR)/.toml
	$(NOX) -e docs-check

build-check: venv $(NOXDIR)/.toml
	$(NOX) -e build-import-check
	tests/quality/build_check.sh  # installs the artifact build-import-check built and runs it

# antsibull-nox sessions (the collection's antsibull-nox.toml): their venvs are kept in build/nox and reused
# without reinstalling (-R) until antsibull-nox.toml or requirements.txt change.
$(NOXDIR)/.toml: $(COLL)/antsibull-nox.toml $(VENV)/.installed
	rm -rf $(NOXDIR) && mkdir -p $(NOXDIR) && cp $< $@

changelog: venv
	tests/quality/changelog.sh

## ---------------------------------------------------------------- the fleet
harness: venv
	$(FLEET) prepare
	$(PYTEST) tests/harness

# Faults on the local fleet: the registry and dockerd killed mid-pull, the playbook killed mid-converge,
# the apt lock held, secrets at -vvv. Own hosts and registry (prefix flt) from the cached host images.
faults: venv
	$(FLEET) registry --kinds bookworm,trixie
	$(PYTEST) tests/faults

fleet-up: venv
	$(FLEET) up

molecule: venv
	$(FLEET) prepare
	cd $(CURDIR) && $(BIN)/molecule test -s default

# Real faults on real dnf 4.14 (the AL2023 stand-in: locks, rpm's lock, repository down, missing pin, Errno 2) and
# apt-mark hold on a Debian host; the stand-in image and the RPM repository come from the fleet's caches.
rpm-faults: venv
	$(FLEET) engine
	$(PYTEST) tests/rpm

molecule-amazon: venv
	tests/molecule_amazon.sh

# Fleet runs: site.yml through ansible-runner (and its HTML report in headless Chromium), the EC2 inventory on moto,
# the execution environment's build context; then four hosts with one lost mid-run.
fleet-runs: venv
	$(FLEET) up
	$(PYTEST) tests/fleetruns tests/inventory

molecule-fleet: venv
	$(FLEET) prepare
	cd $(CURDIR) && $(BIN)/molecule test -s fleet

# Never part of `make test` (docs/benchmarks.md). bench/run.py brings its own hosts (bench-host1..8),
# images and registry content up; BENCH_ARGS narrows it, e.g. BENCH_ARGS="--only pull,facts --rounds 1".
bench: venv
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	-$(FLEET) down --all
	rm -rf .fleet build reports $(COLL)/tests/output
