#!/usr/bin/env bash
# Run a command with the local Kafka and PostgreSQL up. Starts them if they are not running and
# stops them afterwards (even on failure) only if it started them, and not when KEEP=1 asks to
# leave everything running. Maps pytest's exit code 5 ("no tests collected") to a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
subsidy=(uv run --frozen subsidy)

started=0
if ! "${subsidy[@]}" dev status >/dev/null 2>&1; then
  "${subsidy[@]}" dev up || exit 1
  started=1
fi
stop() { if [ "$started" = 1 ] && [ "${KEEP:-0}" != 1 ]; then "${subsidy[@]}" dev down; fi; }
trap stop EXIT
trap 'exit 130' INT TERM

"$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "error: no tests ran (pytest exit code 5)" >&2
  rc=1
fi
exit "$rc"
