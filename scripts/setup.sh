#!/usr/bin/env bash
# Installs the program, the policy pack and the deploy program from their lockfiles, and the Debian
# tools the real-tool tests use. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
for dir in policy deploy; do
  if [ -f "$dir/package-lock.json" ]; then
    npm ci --no-audit --no-fund --prefix "$dir"
  fi
done
# The CLI and the plan/audit tools run the compiled program and pack (bin/, policy/bin/).
npm run build
bash scripts/install-tools.sh
