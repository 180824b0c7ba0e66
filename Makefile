# pharos — two commands do all set-up on a fresh Debian machine, as root:
#   make run    build, then boot the director pair lab from the images and show it at work
#   make test   install what the tests need, build, run every test
# Both need Rust (cargo, 1.85 or newer) first; see the README.
#   make install   build, then copy target/release/pharos to $(PREFIX)/bin
#   make keys      the key pair that signs update bundles (once; in ~/.config/pharos/keys, never in the repo)
#   make deb       the Debian package (image/out/pharos_VERSION-1_amd64.deb), for a service on an existing Debian box
#   make fuzz-smoke   every fuzz target for 7 s (part of make test)
#   make soak      the pair lab under 20 minutes of churn (SOAK_MINUTES=N), memory and fds sampled
#   make bench     every benchmark (about 25 minutes), one table of pharos beside its anchor
.PHONY: all build install deb test run soak bench run-deps deps taplo keys image image-deps static static-fault check-configs schema fuzz-deps fuzz-smoke fuzz clean

CARGO ?= cargo
# Debian packages the image build, the VM lab and the tests need.
# Installed only when missing.
# GRUB's image-making tools and its BIOS and UEFI builds: the image's boot
# loader (grub-pc-bin and grub-efi-amd64-bin install nothing on this
# machine's own disk). bird2: BIRD and its libraries go into every image.
IMAGE_PACKAGES := dpkg-dev kmod dosfstools mtools grub-common grub-pc-bin grub-efi-amd64-bin fdisk cpio lz4 qemu-utils busybox-static iproute2 ipvsadm bird2
LAB_PACKAGES := qemu-system-x86 $(IMAGE_PACKAGES)
# chromium (headless) loads the status page; openssl and curl talk to the
# management API and the status page as an admin would; prometheus
# (promtool) and python3-prometheus-client (its OpenMetrics parser) read
# /metrics as Prometheus does; chrony serves time and rsyslog (with GnuTLS)
# collects logs for tests/vm_clock_logs.rs (their services are not started
# by the install where policy-rc.d forbids it, and the test runs its own,
# chronyd with -x: it never sets this clock). lintian judges the Debian
# package, man-db renders its man pages, mmdebstrap makes the clean Debian
# it is installed into (tests/deb.rs). ovmf is the UEFI firmware the image
# is booted with beside BIOS (tests/vm_image.rs). frr's zebra and vrrpd are
# the second VRRP interop peer (tests/vrrp_frr.rs), which runs its own in
# namespaces with their own sockets: an frr service the install may start
# on a systemd host neither helps nor disturbs it. bird2 (in IMAGE_PACKAGES)
# is also the upstream router of tests/bgp.rs (its bird.service is
# not needed: each test runs its own BIRDs).
TEST_PACKAGES := systemd keepalived frr tcpdump chromium fonts-dejavu-core openssl grub-common curl prometheus python3-prometheus-client chrony rsyslog rsyslog-gnutls lintian man-db mmdebstrap ovmf $(LAB_PACKAGES)

KERNEL ?= cloud
VARIANT ?= prod
CONFIG ?= configs/default.toml
PREFIX ?= /usr/local
DESTDIR ?=
# `make run LAB=keep` stops the demo after its first step and keeps the lab up.
LAB ?=
# One output directory per flavour and variant, so make tells them apart.
IMAGE_OUT := image/out$(if $(filter generic,$(KERNEL)),/generic)$(if $(filter debug,$(VARIANT)),/debug)
STATIC_BIN := target/x86_64-unknown-linux-gnu/release/pharos
# The debug image's binary: the same sources plus the test-only fault switch
# (cargo feature fault-switch: `pharos fault TASK` panics a task, for the
# fault matrix). The production image never has it.
FAULT_BIN := target/pharos-fault-switch
IMAGE_BIN := $(if $(filter debug,$(VARIANT)),$(FAULT_BIN),$(STATIC_BIN))

all: build

define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust first (Debian 12's cargo is too old): curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal, then . \"\$$HOME/.cargo/env\" (see the README)" >&2; exit 1; }
	$(call install_missing,$(TEST_PACKAGES))
	@command -v taplo >/dev/null || $(MAKE) --no-print-directory taplo

# taplo, the TOML checker behind Even Better TOML and other editors: the
# tests check every file in configs/ with it against `pharos schema`.
# taplo's own build for npm (its CLI compiled to WebAssembly, 2 s to
# install) rather than `cargo install taplo-cli` (about 5 minutes of
# compiling in every clean run). npm from Debian only if there is none.
TAPLO_VERSION ?= 0.7.0
taplo:
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm; }
	npm install --global --no-fund --no-audit --loglevel=error @taplo/cli@$(TAPLO_VERSION)

run-deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust first (Debian 12's cargo is too old): curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal, then . \"\$$HOME/.cargo/env\" (see the README)" >&2; exit 1; }
	$(call install_missing,$(LAB_PACKAGES))

image-deps:
	$(call install_missing,$(IMAGE_PACKAGES))
	@apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1 || apt-get update -qq

# pharos for the image: one static binary, no C libraries at run time.
static:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --locked --release --target x86_64-unknown-linux-gnu

# The fault switch's build, copied aside (only when it changed, so the debug
# image is not rebuilt for nothing); then the production binary is put back
# at $(STATIC_BIN) (cargo has both built: it only links it again).
static-fault:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --locked --release --target x86_64-unknown-linux-gnu --features fault-switch
	@cmp -s $(STATIC_BIN) $(FAULT_BIN) || cp $(STATIC_BIN) $(FAULT_BIN)
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --locked --release --target x86_64-unknown-linux-gnu

# The key pair that signs update bundles: made once, kept outside the repo
# and the image (the image carries only the public half). Back it up: a box
# takes upgrades only from bundles signed by the key its image was built with.
KEY_DIR ?= $(HOME)/.config/pharos/keys
keys: static
	@test -f $(KEY_DIR)/bundle-signing.key || $(STATIC_BIN) bundle keygen --dir $(KEY_DIR)

# The image: rebuilt only when an input changed; the same inputs give the
# same bytes (image/build.sh), the signed bundle beside it included.
image: image-deps keys $(if $(filter debug,$(VARIANT)),static-fault,static)
	@$(MAKE) --no-print-directory $(IMAGE_OUT)/pharos.img

$(IMAGE_OUT)/pharos.img: $(IMAGE_BIN) $(CONFIG) image/build.sh image/modules-*.txt image/grub/grub.cfg image/grub/boot.cfg $(shell find overlays -type f) $(KEY_DIR)/bundle-signing.pub
	KERNEL=$(KERNEL) VARIANT=$(VARIANT) CONFIG=$(CONFIG) OUT=$(IMAGE_OUT) PHAROS_BIN=$(IMAGE_BIN) KEY_DIR=$(KEY_DIR) image/build.sh

# The Debian package: the static binary (rebuilt only if cargo finds it
# stale), the systemd unit, an example config, man pages and completions
# (image/deb.sh). Rebuilt only when an input changed.
DEB_VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n1)-1
DEB := image/out/pharos_$(DEB_VERSION)_amd64.deb
deb: static
	@$(MAKE) --no-print-directory $(DEB)

$(DEB): $(STATIC_BIN) image/deb.sh $(wildcard image/deb/*) overlays/systemd/pharos.service
	OUT=image/out PHAROS_BIN=$(STATIC_BIN) image/deb.sh

build:
	$(CARGO) build --locked --release
	@echo "built target/release/pharos (make install puts it in $(PREFIX)/bin)"

# The binary on PATH: $(DESTDIR)$(PREFIX)/bin/pharos.
install: build
	install -D -m 0755 target/release/pharos $(DESTDIR)$(PREFIX)/bin/pharos
	@echo "installed $(DESTDIR)$(PREFIX)/bin/pharos"

# Host tests that mostly wait (VRRP elections and failovers in namespaces,
# against keepalived and FRR): four at a time halves their time (about a
# minute of `make test`) and leaves the cores as idle as two did. The
# others, the VM tests among them, run two at a time.
WAITING_TESTS := vrrp_keepalived vrrp_frr vrrp_netns
OTHER_TESTS := $(filter-out $(WAITING_TESTS),$(basename $(notdir $(wildcard tests/*.rs))))

test: deps
	$(MAKE) --no-print-directory image
	$(MAKE) --no-print-directory image VARIANT=debug
	$(CARGO) build --locked --all-targets
	@$(MAKE) --no-print-directory fuzz-deps
	@# The fuzz targets build at the lowest priority beside the tests (the
	@# host tests leave much of the two cores idle), then fuzz-smoke runs them.
	@mkdir -p fuzz/run; \
	echo "building the fuzz targets at nice 19 beside the tests (fuzz/run/build.log)"; \
	nice -n 19 $(CARGO) fuzz build -s none > fuzz/run/build.log 2>&1 & fuzz=$$!; \
	rc=0; export PHAROS_KEY_DIR=$(KEY_DIR); \
	$(CARGO) test --locked --no-fail-fast $(addprefix --test ,$(WAITING_TESTS)) -- --show-output --test-threads=4 || rc=1; \
	$(CARGO) test --locked --no-fail-fast --lib --bins $(addprefix --test ,$(OTHER_TESTS)) -- --show-output || rc=1; \
	$(CARGO) test --locked --doc || rc=1; \
	wait $$fuzz; frc=$$?; \
	[ $$frc = 0 ] || { tail -n 30 fuzz/run/build.log; echo "the fuzz targets did not build: fuzz/run/build.log"; }; \
	[ $$rc = 0 ] && [ $$frc = 0 ]
	$(MAKE) --no-print-directory fuzz-smoke

check-configs: build
	@for f in configs/*.toml; do target/release/pharos check $$f || exit 1; done

schema: build
	target/release/pharos schema > pharos.schema.json
	@echo "wrote pharos.schema.json"

# The director pair lab (tests/common/pair.rs): lvs1 and lvs2 from the
# production image, rs1, rs2 and a client from the debug image, on QEMU TCG.
# The same code is the test tests/vm_pair.rs; here it narrates.
run: run-deps
	$(MAKE) --no-print-directory image
	$(MAKE) --no-print-directory image VARIANT=debug
	$(CARGO) test --locked -q --test vm_pair -- --demo $(if $(filter keep,$(LAB)),--keep)

# Fuzzing (fuzz/): one cargo-fuzz target per decoder of outside input.
# Stable Rust is enough: with `-s none` (no sanitizer) cargo-fuzz passes
# only stable flags, the SanitizerCoverage pass (-Cpasses=sancov-module,
# -Cllvm-args=-sanitizer-coverage-*), --cfg fuzzing and -Cdebug-assertions
# (so overflows panic), and builds with --release; libFuzzer itself is
# compiled by libfuzzer-sys with the C++ compiler. The sanitizers would
# need nightly, and safe Rust gains little from them.
FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs)))
# Long runs: `make fuzz TARGET=config_check` (RESULTS.md has the numbers).
TARGET ?= config_check
TIME ?= 1800
RUNS ?= 10000000
# libFuzzer reads every corpus directory given and writes what it finds
# to the first, here under fuzz/run/ (ignored by git), so the committed
# seeds in fuzz/corpus/ stay small. A crash exits non-zero and leaves its
# input in fuzz/artifacts/TARGET/. $(call FUZZ_RUN,TARGET,DIR,PREFIX).
FUZZ_RUN = mkdir -p $(2) && \
	$(3) $(CARGO) fuzz run -s none $(1) $(2) fuzz/corpus/$(1) -- -print_final_stats=1

fuzz-deps:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz

# Every target for 10 s from its seeds: a check that each still builds
# and that nothing near the seeds crashes, not a search (that is `fuzz`).
# -timeout makes an input that hangs a failure here, not a stall.
fuzz-smoke: fuzz-deps
	$(CARGO) fuzz build -s none
	@rm -rf fuzz/run/smoke && mkdir -p fuzz/run/smoke && for t in $(FUZZ_TARGETS); do \
	  log=fuzz/run/smoke/$$t.log; \
	  if $(call FUZZ_RUN,$$t,fuzz/run/smoke/$$t) -max_total_time=7 -timeout=10 > $$log 2>&1; then \
	    echo "fuzz $$t: $$(grep -E '^#[0-9]+[[:space:]]+DONE' $$log | tail -1)"; \
	  else \
	    tail -n 40 $$log; echo "fuzz $$t: FAILED (log $$log, input in fuzz/artifacts/$$t/)"; exit 1; \
	  fi; \
	done

# One long run, niced (it takes a core for half an hour), going on from
# the corpus earlier runs left in fuzz/run/TARGET.
fuzz: fuzz-deps
	$(call FUZZ_RUN,$(TARGET),fuzz/run/$(TARGET),nice -n 19) -max_total_time=$(TIME) -runs=$(RUNS)

# The soak (tests/vm_soak.rs): the same lab under continuous churn —
# failovers, reloads, real-server flaps — for SOAK_MINUTES (default 20),
# each director's RSS, open fds and task restarts sampled every minute.
# Not part of `make test`: too long for CI. Results: benches/RESULTS.md.
SOAK_MINUTES ?= 20
soak: run-deps
	$(MAKE) --no-print-directory image
	$(MAKE) --no-print-directory image VARIANT=debug
	SOAK_MINUTES=$(SOAK_MINUTES) $(CARGO) test --locked --test vm_soak -- --ignored --nocapture

# Every benchmark in benches/, each one's raw output kept in benches/out/
# (git ignores it), then one table of what they measured, pharos beside
# its anchor and the target (benches/table.sh). Not part of `make test`:
# the numbers go into benches/RESULTS.md by hand, with the date.
# The IPVS bench at 10,000 services runs in a VM of BENCH_VM_MEM MiB (the
# issue-19 target: 10k x 10 runs in a 256 MiB VM).
BENCHES := config_check check_scale boot vrrp_takeover vrrp_many ipvs_scale check_keepalived
BENCH_VM_MEM ?= 256
bench: deps
	$(MAKE) --no-print-directory image
	$(MAKE) --no-print-directory image VARIANT=debug
	@mkdir -p benches/out
	@for b in $(BENCHES); do \
	  echo "== bench $$b (raw output: benches/out/$$b.txt)"; \
	  start=$$(date +%s); \
	  if ! PHAROS_VM_MEM=$(BENCH_VM_MEM) $(CARGO) bench --locked --bench $$b > benches/out/$$b.txt 2>&1; then \
	    tail -n 30 benches/out/$$b.txt; echo "bench $$b: FAILED (benches/out/$$b.txt)"; exit 1; \
	  fi; \
	  echo "   $$(( $$(date +%s) - start )) s"; \
	done
	@sh benches/table.sh benches/out

clean:
	$(CARGO) clean
