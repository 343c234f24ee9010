# The two commands of the README: `make run` and `make test`. One debug build serves every test.
SWIFT ?= swift
PYTHON ?= python3
BUILD_DIR := .build/debug

.PHONY: deps build test unit-test integration-test fuzz fuzz-smoke run clean deb deb-test bench soak

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build --build-tests

unit-test: build
	$(SWIFT) test --skip-build

# The package's own test (test_package.py) needs the .deb: `make deb-test` runs it.
INTEGRATION = SES_PROXY_BIN_DIR=$(abspath $(BUILD_DIR)) $(PYTHON) -m pytest -q -rs Tests/IntegrationTests \
	--ignore=Tests/IntegrationTests/test_package.py

integration-test: build
	$(INTEGRATION)

# As root (CI), the package is built and installed into a clean Debian tree too.
test: build
	$(SWIFT) test --skip-build
	$(INTEGRATION)
	scripts/fuzz.sh 30
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) --no-print-directory deb-test; \
	else echo "make test: skipping deb-test: it needs root (debootstrap, chroot, dpkg -i)"; fi

# libFuzzer, each target 30 s in `make test` (a minute in all), longer here (FUZZ_SECONDS per target).
FUZZ_SECONDS ?= 1800
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: deps
	scripts/fuzz.sh 30

deb: deps
	scripts/build-deb.sh

deb-test: deb
	SES_DEB=$(abspath $(wildcard dist/ses-smtpd-proxy_*_amd64.deb)) $(PYTHON) -m pytest -q -rs Tests/IntegrationTests/test_package.py

# Figures, not pass/fail: smtp-source against smtp-sink and the release build, fake SES in nginx.
bench:
	@scripts/deps.sh bench
	$(PYTHON) scripts/bench.py --bin-dir "$$(scripts/release-build.sh)" $(BENCH_ARGS)

# An hour at 50 sessions against the fake SES, RSS sampled each minute (SOAK_SECONDS to change).
SOAK_SECONDS ?= 3600
soak:
	@scripts/deps.sh bench
	$(PYTHON) scripts/soak.py --bin-dir "$$(scripts/release-build.sh)" --seconds $(SOAK_SECONDS)

run: deps
	$(SWIFT) build
	scripts/run-local.sh $(abspath $(BUILD_DIR))

clean:
	rm -rf .build .build-fuzz
