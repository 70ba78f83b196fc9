#!/usr/bin/env bash
# Debian tools for the real-tool tests: promtool (prometheus), shellcheck, yamllint, and CrowdSec
# unpacked into .tmp/crowdsec. Without root or apt the tests that need them skip loudly; nothing
# here is needed to run the program itself.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  command -v promtool >/dev/null || need+=(prometheus)
  command -v shellcheck >/dev/null || need+=(shellcheck)
  command -v yamllint >/dev/null || need+=(yamllint)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
      echo "install-tools: could not install ${need[*]}; tests needing them will skip loudly" >&2
  fi
else
  echo "install-tools: not root or no apt-get; tests needing promtool will skip loudly" >&2
fi
bash scripts/install-crowdsec.sh
