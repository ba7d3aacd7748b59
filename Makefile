# lodge: thin wrapper over meson/ninja. `make run` and `make test` work on a
# fresh Debian machine: scripts/deps.sh installs what is missing.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build asan fuzz-build guests test run bench fuzz clean

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

# libFuzzer harnesses (fuzz/): clang, ASan+UBSan; warnings are gcc's job here.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dwerror=false

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

test: build asan fuzz-build
	@tests/run

run: build
	@scripts/run-demo

# All benchmarks, or one: make bench BENCH=blk
BENCH ?= start blk net api restore
bench: build
	@scripts/deps.sh bench
	@for b in $(BENCH); do bench/$$b || exit 1; done

# Each harness for FUZZ_SECONDS; the corpus grows in $(FUZZ_BUILD)/corpus.
fuzz: fuzz-build
	@fuzz/run -b $(FUZZ_BUILD) -t $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
	$(MAKE) -s -C guest clean
