# Two commands do everything on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SPEC   ?= specs/inception_v4.net
OUT    ?= build
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system demo test docs site bench fuzz vsix clean

NPM_STAMP := editors/vscode/node_modules/.package-lock.json

setup: $(STAMP) system $(NPM_STAMP)

# torch/torchvision first and pinned: pip takes these releases from the local disk.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	# these two pin old torch releases in their metadata: take the code, not the pins,
	# plus what they really import
	$(PY) -m pip install -q --no-deps facenet-pytorch pretrainedmodels munch
	$(PY) -m pip install -q six requests
	$(PY) -m compileall -q netdsl  # bytecode, as a regular install has (start-up time)
	touch $@

# The VS Code extension's tokenizer test (vscode-textmate + vscode-oniguruma, pinned in
# editors/vscode/package-lock.json) and its packager (@vscode/vsce); node >= 20.
$(NPM_STAMP): editors/vscode/package.json editors/vscode/package-lock.json
	cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Graphviz's `dot` renders the diagrams (DOT output works without it).
system:
	@command -v dot >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz >/dev/null; } \
	  || echo "warning: could not install graphviz; SVG/PNG rendering will say so"

demo: setup
	@mkdir -p $(OUT)
	$(VENV)/bin/netdsl check $(SPEC)
	@if $(VENV)/bin/netdsl --help | grep -q ' compile'; then $(VENV)/bin/netdsl compile $(SPEC) -o $(OUT)/inception_v4.py && echo "wrote $(OUT)/inception_v4.py"; fi
	@if $(VENV)/bin/netdsl --help | grep -q ' compile'; then $(VENV)/bin/netdsl compile $(SPEC) --optimize inference -o $(OUT)/inception_v4_inference.py && echo "wrote $(OUT)/inception_v4_inference.py (optimized for inference)"; fi
	@if $(VENV)/bin/netdsl --help | grep -q ' render'; then $(VENV)/bin/netdsl render $(SPEC) -o $(OUT)/inception_v4.svg; fi
	@if $(VENV)/bin/netdsl --help | grep -q ' summary'; then $(VENV)/bin/netdsl summary $(SPEC); fi

test: setup
	$(PY) -m pytest -q -n 2 -p no:cacheprovider

docs: setup
	$(PY) -m netdsl.docs

# the MkDocs site of docs/ (build/site), the gallery drawn by netdsl.markdown
site: docs
	$(PY) -m mkdocs build -q

bench: setup
	$(PY) benchmarks/run.py

# Fuzz the front end + code generation (docs/robustness.md): atheris and Hypothesis,
# FUZZ_RUNS executions in total over 2 low-priority processes; findings in fuzz/out/.
FUZZ_RUNS ?= 100000
fuzz: setup
	nice -n 19 $(PY) fuzz/run.py --runs $(FUZZ_RUNS) --jobs 2

# editors/vscode/netdsl-0.1.0.vsix: the extension, for `code --install-extension`
vsix: $(NPM_STAMP)
	cd editors/vscode && npx vsce package --allow-missing-repository

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis editors/vscode/node_modules
