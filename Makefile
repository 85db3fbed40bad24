# pymongoose-go: the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
PY_INCLUDE := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
# pybind is cgo against Python.h: vet needs the interpreter's headers.
export CGO_CFLAGS := -I$(PY_INCLUDE) -O2
export CGO_LDFLAGS_ALLOW := .*

.PHONY: install install-test demo test test-go test-py fuzz fuzz-long bench vet wheel sdist clean

install:
	$(PYTHON) -m pip install .

install-test:
	$(PYTHON) -m pip install --quiet ".[test]"

# Install and run the demo server on http://127.0.0.1:8000 (Ctrl+C stops it).
demo: install
	$(PYTHON) -m pymongoose

# The whole suite: Go (vet, race, a short fuzz) and pytest against the installed package.
test: install-test vet test-go fuzz test-py

vet:
	test -z "$$(gofmt -l core pybind bench 2>/dev/null)" || (gofmt -l core pybind bench; exit 1)
	go vet ./...

test-go:
	go test -race -count=1 ./...

# Every parser's fuzz target for FUZZ_TIME each (go test takes one -fuzz
# target per run). CI runs `make test`, i.e. 20 s per target.
FUZZ_TARGETS ?= FuzzParseRequest FuzzJSONGet FuzzParseMultipart FuzzWSFrame FuzzMQTTPacket FuzzSNTPParse \
	FuzzClientResponse FuzzChunkedPrefix FuzzParseRange FuzzMatch FuzzURLParts FuzzURLCodec FuzzBase64Decode
FUZZ_TIME ?= 20s
# A run that fails without writing a failing input is Go's fuzzing engine
# stopping on its own deadline ("context deadline exceeded", seen on a
# loaded machine), not a finding: that target runs once more.
fuzz:
	@log=$$(mktemp); for t in $(FUZZ_TARGETS); do \
	  for try in 1 2; do \
	    go test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZ_TIME) -fuzzminimizetime=2s ./core/ >$$log 2>&1; rc=$$?; \
	    echo "$$t: $$(grep -o 'execs: [0-9]*' $$log | tail -n 1), $$(tail -n 1 $$log)"; \
	    [ $$rc = 0 ] && break; \
	    if grep -q "Failing input written" $$log || [ $$try = 2 ]; then cat $$log; rm -f $$log; exit 1; fi; \
	    grep -v '^fuzz: elapsed' $$log; echo "$$t: stopped without a failing input; once more"; \
	  done; \
	done; rm -f $$log

# The long campaign: 10 million executions per target (hours on 2 CPUs);
# the last "execs:" line of each target is its count.
fuzz-long:
	$(MAKE) fuzz FUZZ_TIME=10000000x
	$(MAKE) fuzz-py FUZZ_PY_SECONDS=1800

# The Python API fuzzer (tests/test_api_fuzz.py) for FUZZ_PY_SECONDS; a
# finding prints the seed that replays it.
FUZZ_PY_SECONDS ?= 300
.PHONY: fuzz-py
fuzz-py:
	cd tests && $(PYTHON) test_api_fuzz.py --seconds $(FUZZ_PY_SECONDS) --first-seed $$(od -An -N4 -tu4 /dev/urandom)

# pytest runs from tests/ so that `import pymongoose` finds the installed
# package, not the source directory (which has no compiled extension).
test-py:
	cd tests && $(PYTHON) -m pytest -q -p no:cacheprovider

# The Python suite with CPython's and cgo's runtime checks on: dev mode,
# the debug allocator (buffer overruns, use after free, API misuse) and
# cgo's pointer-passing checks (PYTHONDEVMODE: the subprocesses of the crash tests too).
.PHONY: test-debug
test-debug:
	cd tests && PYTHONDEVMODE=1 PYTHONMALLOC=debug GODEBUG=cgocheck=1 $(PYTHON) -X dev -m pytest -q -p no:cacheprovider

# A platform wheel for this interpreter (installs without Go), and the sdist.
# For another CPython, run it with that interpreter: make wheel PYTHON=python3.12
wheel:
	$(PYTHON) -m pip wheel --no-deps -w dist .

sdist:
	$(PYTHON) -m pip install --quiet build
	$(PYTHON) -m build --sdist -o dist .

bench: install
	$(PYTHON) bench/run.py

clean:
	rm -rf build dist *.egg-info pymongoose/_gopy pymongoose/*.so
