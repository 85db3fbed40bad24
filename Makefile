# pymongoose-go: the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
PY_INCLUDE := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
# pybind is cgo against Python.h: vet needs the interpreter's headers.
export CGO_CFLAGS := -I$(PY_INCLUDE) -O2
export CGO_LDFLAGS_ALLOW := .*

.PHONY: install install-test install-bench demo test test-go test-py fuzz fuzz-long bench bench-engine \
	bench-servers vet mod-check typecheck wheel wheels sdist test-matrix clean

# The CPython versions the package supports (pyproject.toml's requires-python
# and classifiers say the same; tests/test_packaging.py checks it).
SUPPORTED_PYTHONS := 3.10 3.11 3.12 3.13
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
# One interpreter per supported version found here: pyenv's, else python3.X on
# PATH. Each candidate must run and be that version (a pyenv shim of a
# version that is not selected exists but does not run).
FOUND_PYTHONS = $(shell for v in $(SUPPORTED_PYTHONS); do \
	  for p in $(PYENV_ROOT)/versions/$$v.*/bin/python$$v $$(command -v python$$v); do \
	    if "$$p" -c "import sys; sys.exit(sys.version_info[:2] != ($${v%.*}, $${v#*.}))" 2>/dev/null; then \
	      echo "$$p"; break; fi; \
	  done; done)

install:
	$(PYTHON) -m pip install .

install-test:
	$(PYTHON) -m pip install --quiet ".[test]"

# The package plus the servers and frameworks bench/servers.py compares it with.
install-bench:
	$(PYTHON) -m pip install --quiet ".[bench]"

# Install and run the demo server on http://127.0.0.1:8000, or $$PORT (Ctrl+C stops it).
demo: install
	$(PYTHON) -m pymongoose

# The whole suite: Go (vet, race, a short fuzz), the type checks and pytest against the installed package.
test: install-test mod-check vet typecheck test-go fuzz test-py

# go.mod and go.sum are exactly what `go mod tidy` makes of the code.
mod-check:
	go mod tidy -diff

vet:
	test -z "$$(gofmt -l core pybind bench 2>/dev/null)" || (gofmt -l core pybind bench; exit 1)
	go vet ./...

test-go:
	go test -race -count=1 ./...

# mypy on the package (pyproject.toml's [tool.mypy]), then mypy.stubtest: the
# stubs (pymongoose/*.pyi) against the installed module, from tests/ so that
# the installed copy is the one imported; stubtest-allowlist.txt says what
# cannot match and why.
typecheck:
	$(PYTHON) -m mypy -p pymongoose
	cd tests && $(PYTHON) -m mypy.stubtest pymongoose --mypy-config-file ../pyproject.toml \
	  --allowlist ../stubtest-allowlist.txt

# Every parser's fuzz target for FUZZ_TIME each (go test takes one -fuzz
# target per run), in the package whose tests define it (core or
# core/codec). CI runs `make test`, i.e. 20 s per target.
FUZZ_TARGETS ?= FuzzParseRequest FuzzJSONGet FuzzParseMultipart FuzzWSFrame FuzzMQTTPacket FuzzSNTPParse \
	FuzzClientResponse FuzzChunkedPrefix FuzzParseRange FuzzMatch FuzzURLParts FuzzURLCodec FuzzBase64Decode FuzzResponseHead \
	FuzzBodyStreamChunked FuzzFormDecode
FUZZ_TIME ?= 20s
# A run that fails without writing a failing input is Go's fuzzing engine
# stopping on its own deadline ("context deadline exceeded", seen on a
# loaded machine), not a finding: that target runs once more.
fuzz:
	@log=$$(mktemp); for t in $(FUZZ_TARGETS); do \
	  pkg=$$(grep -l "^func $$t(" core/*_test.go core/*/*_test.go | xargs -r dirname | sort -u); \
	  [ $$(echo "$$pkg" | wc -w) = 1 ] || { echo "$$t: not defined in exactly one package under core/"; rm -f $$log; exit 1; }; \
	  for try in 1 2; do \
	    go test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZ_TIME) -fuzzminimizetime=2s ./$$pkg/ >$$log 2>&1; rc=$$?; \
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

# Shell steps for the interpreter in $$py: build its wheel into dist/ (an
# older one of the same tag is removed first), then install it into a fresh
# venv without Go on PATH and check that it serves HTTP.
BUILD_AND_CHECK_WHEEL = tag=$$($$py -c 'import sys; print("cp%d%d" % sys.version_info[:2])'); \
	  rm -f dist/pymongoose-*-$$tag-$$tag-*.whl; \
	  echo "== wheel for $$py"; \
	  $$py -m pip wheel --no-deps -q -w dist . ; \
	  $$py tests/wheel_check.py dist/pymongoose-*-$$tag-$$tag-*.whl

# One wheel per supported CPython found, each checked as above.
wheels:
	@test -n "$(FOUND_PYTHONS)" || { echo "no supported CPython ($(SUPPORTED_PYTHONS)) found"; exit 1; }
	@set -e; for py in $(FOUND_PYTHONS); do $(BUILD_AND_CHECK_WHEEL); done
	@for v in $(SUPPORTED_PYTHONS); do \
	  case " $(FOUND_PYTHONS) " in *python$$v" "*) ;; *) echo "note: no CPython $$v found here";; esac; done

# The pytest suite under every supported CPython found, except the versions in
# MATRIX_EXCLUDE (e.g. the one `make test` ran it with): each builds and checks
# its wheel as `make wheels` does, installs it with the test extras into a
# fresh venv (build/matrix/3.X) and runs the suite there. test_packaging.py
# and test_newcomer.py build from source again: the wheel check covers the
# former per interpreter, and `make test` runs both once.
MATRIX_EXCLUDE ?=
test-matrix:
	@test -n "$(FOUND_PYTHONS)" || { echo "no supported CPython ($(SUPPORTED_PYTHONS)) found"; exit 1; }
	@set -e; for py in $(FOUND_PYTHONS); do \
	  v=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  case " $(MATRIX_EXCLUDE) " in *" $$v "*) echo "== CPython $$v: excluded"; continue;; esac; \
	  $(BUILD_AND_CHECK_WHEEL); \
	  echo "== test suite under CPython $$v ($$py)"; \
	  rm -rf build/matrix/$$v; $$py -m venv build/matrix/$$v; \
	  build/matrix/$$v/bin/python -m pip install -q "$$(ls dist/pymongoose-*-$$tag-$$tag-*.whl)[test]"; \
	  (cd tests && ../build/matrix/$$v/bin/python -m pytest -q -p no:cacheprovider \
	     --ignore=test_packaging.py --ignore=test_newcomer.py); \
	done
	@for v in $(SUPPORTED_PYTHONS); do \
	  case " $(FOUND_PYTHONS) " in *python$$v" "*) ;; *) echo "note: no CPython $$v found here";; esac; done

# Both benchmarks (bench/README.md): the engine against cymongoose, then the
# ASGI/WSGI servers against uvicorn, granian and gunicorn (~5 min).
bench: bench-engine bench-servers

bench-engine: install-bench
	$(PYTHON) bench/run.py

bench-servers: install-bench
	$(PYTHON) bench/servers.py

clean:
	rm -rf build dist *.egg-info pymongoose/_gopy pymongoose/*.so .mypy_cache tests/.mypy_cache
