# Two commands for a fresh machine: `make demo` and `make test`.
# Each installs what it needs (scripts/install-deps) and is safe to run twice.

BUILD        ?= build
BUILD_SAN    ?= build-sanitize
BUILD_FUZZ   ?= build-fuzz
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS  ?=
FUZZ_SECONDS ?= 30

.PHONY: all deps build demo test test-c test-sanitize fuzz format check-format clean \
        python-env test-python demo-python

all: build

deps:
	@bash scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job on its built-in example, then the Python examples.
demo: build
	./$(BUILD)/add_plugin_demo $(BUILD)
	@$(MAKE) --no-print-directory demo-python

# The Python examples (examples/python): each builds its engines into
# $(BUILD)/python, then runs them in a fresh process where there is a GPU and
# inspects them where there is none. Skipped when Triton is not installed.
demo-python: build python-env
	@mkdir -p $(BUILD)/python
	@if .venv/bin/python -c 'import triton' >/dev/null 2>&1; then \
	  export KILN_LIBRARY=$(CURDIR)/$(BUILD)/libkiln.so && \
	  .venv/bin/python examples/python/add_plugin.py $(BUILD)/python/add_plugin.engine && \
	  .venv/bin/python examples/python/circ_pad.py $(BUILD)/python; \
	else \
	  echo "demo-python: Triton is not installed in .venv; skipping the Python examples"; \
	fi

# Every test: the C tests, then the Python tests.
test: build
	./$(BUILD)/kiln_tests
	@$(MAKE) --no-print-directory test-python

# The project-local Python environment .venv (pytest, numpy, Triton, and the
# kiln package installed editable from python/).
python-env: deps
	@bash scripts/python-env

# The Python front-end's tests (pytest) against $(BUILD)/libkiln.so. pytest's
# exit code 5 ("no tests collected") only passes when tests/python has none.
test-python: build python-env
	@rc=0; KILN_LIBRARY=$(CURDIR)/$(BUILD)/libkiln.so .venv/bin/python -m pytest tests/python -q -rs \
	  || rc=$$?; \
	if [ $$rc -eq 5 ] && ! ls tests/python/test_*.py >/dev/null 2>&1; then \
	  echo "test-python: no Python tests"; rc=0; fi; \
	exit $$rc

# The C tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps
	cmake -S . -B $(BUILD_SAN) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=Debug -DKILN_ENABLE_ASAN=ON -DKILN_ENABLE_UBSAN=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_SAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:protect_shadow_gap=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ./$(BUILD_SAN)/kiln_tests

# Builds the libFuzzer targets and runs each for FUZZ_SECONDS on its corpus.
fuzz: deps
	bash scripts/fuzz $(BUILD_FUZZ) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')

check-format:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h' '*.cc')

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
