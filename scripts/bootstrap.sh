#!/usr/bin/env bash
# Install everything the project needs on a fresh machine: uv, Java 17 and Maven (for the
# Kafka jars), then the locked Python environment. Idempotent; quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
APT_PACKAGES=()

need_apt() { APT_PACKAGES+=("$1"); }

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
}

command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null || need_apt openjdk-17-jre-headless
command -v mvn >/dev/null 2>&1 || need_apt maven
for extra in "$@"; do
  case "$extra" in
    promtool) command -v promtool >/dev/null 2>&1 || need_apt prometheus ;;
    # librdkafka's command line: a fourth Kafka client the security tests log in with.
    kcat) command -v kcat >/dev/null 2>&1 || need_apt kcat ;;
    chromium)
      command -v chromium >/dev/null 2>&1 || need_apt chromium
      # The dashboard is in Chinese: without a CJK font Chromium draws empty boxes.
      [ -n "$(fc-list :lang=zh family 2>/dev/null)" ] || need_apt fonts-noto-cjk ;;
  esac
done

if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${APT_PACKAGES[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
  else
    echo "bootstrap: please install: ${APT_PACKAGES[*]} (Java 17 and Maven fetch and run Kafka)" >&2
    exit 1
  fi
fi

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

uv sync --frozen --quiet
