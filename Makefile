# The two commands of the README: `make run` and `make test`. One debug build serves every test.
SWIFT ?= swift
PYTHON ?= python3
BUILD_DIR := .build/debug

.PHONY: deps build test unit-test integration-test fuzz fuzz-smoke run clean

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build --build-tests

unit-test: build
	$(SWIFT) test --skip-build

integration-test: build
	SES_PROXY_BIN_DIR=$(abspath $(BUILD_DIR)) $(PYTHON) -m pytest -q -rs Tests/IntegrationTests

test: build
	$(SWIFT) test --skip-build
	SES_PROXY_BIN_DIR=$(abspath $(BUILD_DIR)) $(PYTHON) -m pytest -q -rs Tests/IntegrationTests
	scripts/fuzz.sh 60

# libFuzzer over the SMTP core: a minute in `make test`, longer here (FUZZ_SECONDS).
FUZZ_SECONDS ?= 1800
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: deps
	scripts/fuzz.sh 60

run: deps
	$(SWIFT) build
	scripts/run-local.sh $(abspath $(BUILD_DIR))

clean:
	rm -rf .build .build-fuzz
