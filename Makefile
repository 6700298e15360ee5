# cachier for Go — developer entry points.
#
#   make example   run the quickstart on the embedded file store (no setup)
#   make test      start the test servers if needed, then run every test with -race
#
GO      ?= go
TIMEOUT ?= 30m

.PHONY: all example test unit bench lint services services-stop

# Where the service scripts keep private server instances and the env files
# that point the tests at them (see scripts/services/common.bash).
export CACHIER_SERVICES_DIR ?= $(if $(TMPDIR),$(TMPDIR),/tmp)/cachier-services
# WITH_SERVICES_ENV exports the CACHIER_TEST_* variables the service
# scripts wrote for the private instances they started.
WITH_SERVICES_ENV = set -a; for f in "$(CACHIER_SERVICES_DIR)"/*.env; do [ -f "$$f" ] && . "$$f"; done; set +a;

all: lint test

example:
	$(GO) run ./examples/quickstart

# NESTED are the Go modules nested in the library's (each its own go.mod,
# requiring the library through a replace ../..): the exporters, and the
# example that uses one. `test`, `unit` and `lint` run them too, with
# -mod=mod so that a dependency added to the library's go.mod reaches them
# without a go mod tidy in each.
NESTED ?= metrics/prometheus metrics/otel examples/metrics
NESTED_GO = for m in $(NESTED); do echo "== $$m"; (cd $$m && GOFLAGS=-mod=mod $(GO)

# test runs the whole suite against real servers; `services` starts whatever
# is missing (PostgreSQL, MariaDB, Redis, a MongoDB-protocol server).
test: services
	$(WITH_SERVICES_ENV) $(GO) test -race -count=1 -timeout $(TIMEOUT) ./...
	@$(NESTED_GO) test -race -count=1 -timeout $(TIMEOUT) ./...) || exit 1; done

# unit runs the suite without starting anything; backends whose server is
# absent are skipped (unless CACHIER_REQUIRE_SERVICES=1).
unit:
	$(WITH_SERVICES_ENV) $(GO) test -race -count=1 -timeout $(TIMEOUT) ./...
	@$(NESTED_GO) test -race -count=1 -timeout $(TIMEOUT) ./...) || exit 1; done

BENCH ?= .
COUNT ?= 6
bench: services
	$(WITH_SERVICES_ENV) $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) ./... | tee bench.txt
	@command -v benchstat >/dev/null || $(GO) install golang.org/x/perf/cmd/benchstat@latest
	@"$$($(GO) env GOPATH)/bin/benchstat" bench.txt

lint:
	$(GO) vet ./...
	@$(NESTED_GO) vet ./...) || exit 1; done
	@out=$$(gofmt -l . | grep -v '^tools/'); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	@"$$($(GO) env GOPATH)/bin/staticcheck" ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=plan9 $(GO) vet ./...

# services checks each server the tests use, and installs (apt-get) and
# starts whatever does not answer. It changes nothing where all are up, and
# never the authentication of a server it did not start: where one answers
# but not with the tests' credentials, it starts a private instance on
# another port and points the tests at it (the env files above).
services:
	@for s in scripts/services/*.sh; do bash "$$s" || exit 1; done

# services-stop stops what `make services` started (private instances, and
# servers it started because none ran), and nothing else.
services-stop:
	@for s in scripts/services/*.sh; do bash "$$s" stop; done
