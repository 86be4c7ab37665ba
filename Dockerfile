# syntax=docker/dockerfile:1
# Ejazz: one binary (./cmd/ejazz) for every process — `serve all`, `worker all`, `migrate`, …
# Used by dev/temporal-compose.yaml (ejazz-api, ejazz-worker, ejazz-migrate).
#   docker build -t ejazz .

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/ejazz ./cmd/ejazz

# debian-slim rather than distroless: the compose health checks need curl, and the media worker ffmpeg (video posters).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl tzdata ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/ejazz --create-home ejazz
COPY --from=build /out/ejazz /usr/local/bin/ejazz
USER ejazz
WORKDIR /var/lib/ejazz
ENV EJAZZ_HTTP_ADDR=0.0.0.0:8080 \
    EJAZZ_DATA_DIR=/var/lib/ejazz
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/ejazz"]
CMD ["serve", "all"]
