#!/usr/bin/env bash
# Unpacks Debian's crowdsec package (binaries + hub snapshot) into .tmp/crowdsec for the acquisition
# replay test. `apt-get download` + `dpkg -x` skips the package's post-install, which registers
# with the online API and fails offline. Safe to run again; exits 0 when it cannot install so the
# test skips loudly instead of breaking CI.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
dest=.tmp/crowdsec
if [ -x "$dest/usr/bin/crowdsec" ] && [ -x "$dest/usr/bin/cscli" ] && [ -d "$dest/usr/share/crowdsec/hub" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "install-crowdsec: no apt-get/dpkg; the CrowdSec replay test will skip loudly" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download -qq crowdsec >/dev/null 2>&1); then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1; fi
  if ! (cd "$work" && apt-get download -qq crowdsec >/dev/null); then
    echo "install-crowdsec: apt-get download crowdsec failed; the replay test will skip loudly" >&2
    exit 0
  fi
fi
rm -rf "$dest" && mkdir -p "$dest"
dpkg -x "$work"/crowdsec_*.deb "$dest"
echo "install-crowdsec: $("$dest/usr/bin/crowdsec" -version 2>&1 | head -n 1) in $dest"
