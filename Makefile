# Ejazz — the two commands are `make dev` (or `go run ./cmd/ejazz dev`) and `make test`.
SHELL := /bin/bash
GO    ?= go
TOOLS := $(GO) tool -modfile=tools/go.mod
export GOWORK := off

.PHONY: all build dev test test-go lint generate check-generated stack-up stack-down

all: build

## build: the one binary, into bin/ejazz
build:
	$(GO) build -o bin/ejazz ./cmd/ejazz

## dev: the whole platform in one process (embedded profile)
dev:
	$(GO) run ./cmd/ejazz dev

## test: lint, start every engine (dev/stack up), run the whole Go test suite against them
test: lint stack-up test-go

## test-go: the Go tests against the engines of `dev/stack env` (stack must be up)
test-go:
	eval "$$(bash dev/stack env)" && $(GO) test -count=1 -timeout 45m ./...

## lint: vet, staticcheck, Temporal's workflowcheck, buf lint, and generated code up to date
lint: check-generated
	$(GO) vet ./...
	$(TOOLS) staticcheck ./...
	$(TOOLS) workflowcheck ./workflows/...
	$(TOOLS) buf lint

## generate: regenerate gen/ from apis/ (offline, pinned tools)
generate:
	$(TOOLS) buf generate

check-generated:
	bash dev/check-generated

stack-up:
	bash dev/stack up

stack-down:
	bash dev/stack down
