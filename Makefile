# pharos — two commands do all set-up on a fresh Debian machine, as root:
#   make run    build, then boot the appliance with the embedded default config
#   make test   install what the tests need, build, run every test
.PHONY: all build test run deps check-configs schema clean

CARGO ?= cargo
# Debian packages the tests need. Installed only when missing.
TEST_PACKAGES := systemd

all: build

deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build:
	$(CARGO) build --locked --release

test: deps
	$(CARGO) build --locked --all-targets
	$(CARGO) test --locked --no-fail-fast

check-configs: build
	@for f in configs/*.toml; do target/release/pharos check $$f || exit 1; done

schema: build
	target/release/pharos schema > pharos.schema.json
	@echo "wrote pharos.schema.json"

run: build
	@echo "== pharos: checking the embedded default config (configs/default.toml)"
	target/release/pharos check configs/default.toml
	@echo
	@echo "== still to come (see the issues): the bootable image (issue 4), the network"
	@echo "   plane, IPVS, VRRP and health checks. Once the image lands, 'make run' boots"
	@echo "   two directors, two real servers and a client in QEMU with this config."

clean:
	$(CARGO) clean
