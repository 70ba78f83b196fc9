#!/usr/bin/env bash
# Debian tools for the real-tool tests (promtool, crowdsec, linters). Without root or apt the tests
# that need them skip loudly; nothing here is required to run the program itself.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-tools: not root or no apt-get; tests needing Debian tools will skip loudly" >&2
  exit 0
fi
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v yamllint >/dev/null || need+=(yamllint)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
