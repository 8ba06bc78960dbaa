# interdict: userspace IPS. `make run` starts the appliance on its embedded
# default config; `make test` runs every test (root-only suites skip locally
# without root and fail in CI, where CI=true).

GO          ?= go
BIN         ?= bin/interdict
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
TEST_TIMEOUT ?= 25m
FUZZTIME    ?= 20s
# The hyperscan engine needs Debian's libhyperscan-dev; set HYPERSCAN= to
# build and test without it.
HYPERSCAN   ?= $(shell pkg-config --exists libhs 2>/dev/null && echo hyperscan)

.PHONY: all gocheck build run test test-short race bench lint cross fuzz conformance clean docs deb image image-hyperscan

all: build

# A first `make` on a fresh machine fails before Go runs in two ways: no
# go on PATH, or Debian 12's golang-go (1.19), which cannot read go.mod
# ("invalid go version"). Go 1.21 and later fetch the toolchain go.mod
# names by themselves.
gocheck:
	@command -v $(GO) >/dev/null 2>&1 || { echo "$(GO): not found on PATH. Install Go 1.26.3+ from https://go.dev/dl into /usr/local/go and add /usr/local/go/bin to PATH (README, Requirements)"; exit 1; }
	@v=$$($(GO) env GOVERSION 2>/dev/null); case "$$v" in go1.[0-9]|go1.[0-9].*|go1.1[0-9]|go1.1[0-9].*|go1.20|go1.20.*|"") \
	  echo "$(GO) is $${v:-too old to say}: this needs Go 1.26.3+ (1.21+ fetches it by itself). Install it from https://go.dev/dl into /usr/local/go, put /usr/local/go/bin first on PATH (README, Requirements)"; exit 1;; esac

build: gocheck
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./appliance/cmd/interdict

run: build
	$(BIN) run $(ARGS)

# images/kubernetes/check checks the Kubernetes manifests against the API
# types and PodSecurity; a module of its own keeps those dependencies out
# of the product's.
test: build
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd images/kubernetes/check && $(GO) test -count=1 ./...
ifneq ($(HYPERSCAN),)
	$(GO) test -count=1 -tags hyperscan -timeout 10m ./inspect/prefilter/...
endif

test-short:
	$(GO) test -short -count=1 ./...

race:
	$(GO) test -race -short -count=1 -timeout $(TEST_TIMEOUT) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...
ifneq ($(HYPERSCAN),)
	$(GO) test -run '^$$' -bench . -benchmem -tags hyperscan ./inspect/prefilter/...
endif

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt would change:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || { echo "staticcheck not found: go install honnef.co/go/tools/cmd/staticcheck@v0.8.2"; exit 1; }
	staticcheck ./...

# macOS and Windows build from the same packages (platform code by file
# suffix); vet them so a Linux-only call cannot slip in.
cross:
	GOOS=darwin CGO_ENABLED=0 $(GO) vet ./...
	GOOS=windows CGO_ENABLED=0 $(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) build -o /dev/null ./appliance/cmd/interdict
	GOOS=windows CGO_ENABLED=0 $(GO) build -o /dev/null ./appliance/cmd/interdict

# Every fuzz target, FUZZTIME each (go test -fuzz takes one target at a time).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# suricata-verify cases replayed through `interdict replay`'s code path; one
# line per case, then "N passed, N failed". The corpus is ../shared/corpus
# beside the repository (INTERDICT_CORPUS overrides).
conformance: build
	$(GO) test -count=1 -v -run TestConformance ./tests/conformance/

# Generated documents: the configuration reference (config types and the
# embedded default) and the rule-language support matrix (the converter).
# Their tests fail when they are stale; this regenerates both.
docs:
	UPDATE_DOCS=1 $(GO) test -count=1 -run '^TestDocs' ./appliance/ ./inspect/rules/

# Deployment artefacts from the one static binary of `make build`.
# deb: bin/interdict_VERSION_ARCH.deb (images/deb, images/systemd).
deb: build
	sh images/deb/build.sh $(BIN) bin
# image: the container image $(IMAGE) with buildah (vfs storage, chroot
# isolation: no daemon, no base image pulled); prints its size.
IMAGE ?= localhost/interdict:$(VERSION)
image: build
	sh images/container/build.sh $(BIN) $(IMAGE)
# image-hyperscan: the Hyperscan variant (x86-64, needs libhyperscan-dev)
# on the same empty base: cgo linked statically with libhs.a and
# libstdc++; netgo and osusergo keep glibc's NSS out of the binary.
HS_BIN   ?= bin/interdict-hyperscan
HS_IMAGE ?= localhost/interdict:$(VERSION)-hyperscan
image-hyperscan:
	CGO_ENABLED=1 $(GO) build -tags hyperscan,netgo,osusergo -trimpath \
	  -ldflags '$(LDFLAGS) -linkmode external -extldflags -static' -o $(HS_BIN) ./appliance/cmd/interdict
	sh images/container/build.sh $(HS_BIN) $(HS_IMAGE) images/container/config-hyperscan.yaml

clean:
	rm -rf bin
