# lodge: thin wrapper over meson/ninja. `make run` and `make test` work on a
# fresh Debian machine: scripts/deps.sh installs what is missing.
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build asan guests test run bench fuzz clean

all: build

deps:
	@scripts/deps.sh test

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	$(MAKE) -s -C guest

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

test: build asan
	@tests/run

run: build
	@scripts/run-demo

bench: build
	@scripts/deps.sh bench
	@bench/start

fuzz:
	@echo "make fuzz: no fuzz harnesses yet (the virtio and API issues add them)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
	$(MAKE) -s -C guest clean
