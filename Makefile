# webtune — `make run` serves the page, `make test` checks everything.
# Both install what they need on a fresh Debian machine.

GO       ?= go
PUBLIC   := public
APT      := $(shell command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo) apt-get
JS_SRC   := $(wildcard js/*.mjs)
GO_SRC   := $(shell find model wasm kernels -name '*.go' -not -name '*_test.go' 2>/dev/null) kernels/webgpu/matmul.wgsl go.mod go.sum

# Natively on amd64, GoMLX's AVX2/AVX-512 matrix kernels are compiled only
# with Go's SIMD experiment (5.8x faster base-size steps here); elsewhere the
# pure-Go kernels.
GOSIMD   := $(if $(filter amd64,$(shell $(GO) env GOARCH 2>/dev/null)),GOEXPERIMENT=simd)

.PHONY: all build cli run test test-go test-wasm test-fuzz test-e2e deps deps-browser bench gpu-check golden bundle clean

all: build

## build: the WebAssembly program and the page's assets under public/
SIMD_WASM := simd.wasm simd-shared.wasm simd-fma.wasm simd-fma-shared.wasm

build: $(PUBLIC)/build/app.wasm $(addprefix $(PUBLIC)/build/,$(SIMD_WASM)) $(PUBLIC)/build/wasm_exec.js $(patsubst js/%,$(PUBLIC)/js/%,$(JS_SRC))

$(PUBLIC)/build/app.wasm: $(GO_SRC)
	@mkdir -p $(@D)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $@ ./wasm

# The SIMD kernels, assembled from WAT with wabt from npm: on Go's memory and
# on the shared memory of the helper threads (js/team.mjs), each with and
# without relaxed-SIMD fused multiply-adds (see build.mjs).
$(addprefix kernels/simd/,$(SIMD_WASM)) &: kernels/simd/simd.wat kernels/simd/build.mjs kernels/simd/package-lock.json
	cd kernels/simd && npm ci --no-audit --no-fund --silent && node build.mjs simd.wat

$(PUBLIC)/build/%.wasm: kernels/simd/%.wasm
	@mkdir -p $(@D)
	cp $< $@

# syumai/workers' wasm_exec.js (Go's, plus the `context` proxy the library
# reads its binding from); only that file is used, with our own runtime.
$(PUBLIC)/build/wasm_exec.js: go.mod
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && $(GO) run github.com/syumai/workers/cmd/workers-assets-gen -mode go -o $$tmp/assets && cp $$tmp/assets/wasm_exec.js $@ && rm -rf $$tmp

$(PUBLIC)/js/%.mjs: js/%.mjs
	@mkdir -p $(@D)
	cp $< $@

## cli: the command-line trainer, bin/webtune-train (AVX2/AVX-512 kernels on amd64)
cli:
	$(GOSIMD) $(GO) build -o bin/webtune-train ./tools/train

## run: serve the page at http://localhost:8080 (make run PORT=8081 for another port)
PORT ?= 8080

run: deps build
	$(GO) run ./tools/serve -addr localhost:$(PORT) -dir $(PUBLIC)

## test: vet, unit and parity tests (native and wasm), fuzzing, browser end-to-end tests
test: deps
	@echo "== gofmt / vet (native and wasm at once)"
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@$(GO) vet ./... & native=$$!; GOOS=js GOARCH=wasm $(GO) vet ./... || exit 1; wait $$native
	@# A line every 30 s, so that a long stage never looks hung.
	@( while sleep 30; do echo "   … make test is running ($$(date +%T))"; done ) & ticker=$$!; \
		$(MAKE) test-go test-wasm test-fuzz test-e2e; rc=$$?; kill $$ticker; exit $$rc

test-go:
	@echo "== go test (native$(if $(GOSIMD), with $(GOSIMD)))"
	$(GOSIMD) $(GO) test -count=1 ./...

# The same packages compiled to WebAssembly and run under Node.
# tools/wasmexec is Go's Node runner plus the SIMD kernel on Go's memory and
# WebGPU through Dawn for Node on the SwiftShader Vulkan driver (from chromium).
test-wasm: $(addprefix kernels/simd/,$(SIMD_WASM)) deps-browser
	@echo "== go test (GOOS=js GOARCH=wasm, under Node, with the SIMD kernel and WebGPU)"
	cd tools/wasmexec && npm ci --no-audit --no-fund --silent
	GOOS=js GOARCH=wasm VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=$${XDG_RUNTIME_DIR:-/tmp} \
		$(GO) test -exec "$(CURDIR)/tools/wasmexec/go_js_wasm_exec" -count=1 ./model/... ./wasm/... ./kernels/...
	@echo "== the SIMD kernels again with the plain build (no fused multiply-adds)"
	GOOS=js GOARCH=wasm WEBTUNE_SIMD=plain \
		$(GO) test -exec "$(CURDIR)/tools/wasmexec/go_js_wasm_exec" -count=1 -run 'SIMD|Team|Pack|Dot|Fused|Reductions|TrainingStepMatchesPureGo' ./kernels/...

test-fuzz:
	@echo "== fuzzing each reader of user files (15,000 inputs each: a count, not a time, which a loaded machine failed as a deadline)"
	@for t in dataset:FuzzTSV dataset:FuzzCSV dataset:FuzzJSONL dataset:FuzzParquet safetensors:FuzzOpen checkpoint:FuzzParseConfig tokenize:FuzzEncode; do \
		$(GO) test ./model/$${t%%:*} -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime 15000x || exit 1; done

test-e2e: build deps-browser
	@echo "== browser end-to-end tests (Chromium, WebGPU on SwiftShader)"
	cd tools/e2e && npm ci --no-audit --no-fund --silent && node --test --test-concurrency=1 e2e.test.mjs

deps:
	@command -v node >/dev/null && command -v npm >/dev/null || { $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq nodejs npm; }
	$(GO) mod download

deps-browser:
	@command -v chromium >/dev/null && ldconfig -p | grep -q libvulkan.so.1 || { $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq chromium libvulkan1; }

## bench: matrix kernels and a DistilBERT-base-shaped training step, as ratios against baselines run in the same command
bench: $(addprefix kernels/simd/,$(SIMD_WASM)) deps-browser
	@mkdir -p test-output
	cd tools/wasmexec && npm ci --no-audit --no-fund --silent
	cd tools/bench && npm ci --no-audit --no-fund --silent && \
		VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=$${XDG_RUNTIME_DIR:-/tmp} node bench.mjs

## gpu-check: out/gpucheck, the real-GPU check the device tool runs (tools/gpucheck/run.sh)
gpu-check: $(addprefix kernels/simd/,$(SIMD_WASM))
	cd tools/wasmexec && npm ci --no-audit --no-fund --silent
	GO=$(GO) tools/gpucheck/build.sh

## golden: regenerate the committed reference data (needs python3-torch and npm)
golden:
	command -v /usr/bin/python3 >/dev/null && /usr/bin/python3 -c 'import torch' 2>/dev/null || { $(APT) update -qq && $(APT) install -y -qq python3-torch; }
	/usr/bin/python3 tools/golden/torch_reference.py ../shared/models/distilbert-tiny testdata/torch
	cd tools/golden && npm ci --no-audit --no-fund --silent
	node tools/golden/tokenizer_golden.mjs ../shared/models/distilbert-tiny ../shared/data/sst2/dev.tsv testdata/tokenizer_golden.json
	node tools/golden/parquet_fixture.mjs ../shared/data/sst2/train.tsv testdata/sst2 2000 2

## bundle: rebuild the page's offline model from the shared tiny DistilBERT
bundle:
	$(GO) run ./tools/bundle -from ../shared/models/distilbert-tiny -to $(PUBLIC)/models/distilbert-tiny

clean:
	rm -rf $(PUBLIC)/build $(PUBLIC)/js test-output
