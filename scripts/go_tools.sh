#!/usr/bin/env bash
# Install the pinned Go tools into .cache/bin (gitignored): kustomize renders deploy/k8s,
# kubeconform validates what it renders against deploy/schemas (vendored: CI has no GitHub),
# grpcurl talks to the gRPC APIs as an operator would (over TLS, -cacert), buf lints proto/ and
# checks it for breaking changes against the previous commit. All are built from
# source through the Go module proxy, the one source of Go code the machines reach; a prebuilt
# release download would not work here. Idempotent: prints the bin directory and does nothing
# else when the right versions are already there.
# Called by the tests that use them (tests/support/go_tools.py), so `make test` needs nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."

KUSTOMIZE_VERSION=v5.8.1     # v5.8.2+ needs Go 1.27; this machine kind has Go 1.26
KUBECONFORM_VERSION=v0.8.0   # needs Go 1.26
GRPCURL_VERSION=v1.9.4
BUF_VERSION=v1.75.0          # needs Go 1.26.7
GO_TOOLCHAIN=go1.26.8        # what an older Go (1.21+) fetches from the module proxy
BIN="$PWD/.cache/bin"
STAMP="$BIN/.go-tools-$KUSTOMIZE_VERSION-$KUBECONFORM_VERSION-$GRPCURL_VERSION-$BUF_VERSION"

if [ -x "$BIN/kustomize" ] && [ -x "$BIN/kubeconform" ] && [ -x "$BIN/grpcurl" ] && [ -x "$BIN/buf" ] &&
  [ -f "$STAMP" ]; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  # Debian's golang-go when run as root (CI is); anything else must bring its own Go.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "go_tools: installing golang-go with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >&2
  else
    echo "go_tools: please install Go (needed to build kustomize, kubeconform, grpcurl and buf)" >&2
    exit 1
  fi
fi

mkdir -p "$BIN"
# The machine's own Go when it is recent enough; otherwise (Debian's golang-go, say) the pinned
# toolchain from the module proxy, which Go 1.21+ can fetch; Go older than that cannot.
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ "${go_minor:-0}" -ge 26 ]; then toolchain=local; else toolchain=$GO_TOOLCHAIN; fi
# GOFLAGS replaced so a developer's -mod=vendor or similar does not leak into `go install`.
export GOBIN="$BIN" GOTOOLCHAIN=$toolchain GOFLAGS=-buildvcs=false
echo "go_tools: building kustomize $KUSTOMIZE_VERSION, kubeconform $KUBECONFORM_VERSION," \
  "grpcurl $GRPCURL_VERSION and buf $BUF_VERSION into $BIN" >&2
go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >&2
go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" >&2
go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION" >&2
rm -f "$BIN"/.k8s-tools-* "$BIN"/.go-tools-*
touch "$STAMP"
echo "$BIN"
