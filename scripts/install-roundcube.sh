#!/usr/bin/env bash
# Unpacks Debian's roundcube-core and roundcube-plugins packages into .tmp/roundcube: only their
# option defaults are used, to check that the PHP config the program renders sets options Roundcube
# knows. `apt-get download` + `dpkg -x` installs none of their dependencies (Apache, MariaDB).
# Safe to run again; exits 0 when it cannot install (the test then skips loudly, or fails in CI).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
dest=.tmp/roundcube
if [ -f "$dest/etc/roundcube/defaults.inc.php" ] && [ -d "$dest/usr/share/roundcube/plugins" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "install-roundcube: no apt-get/dpkg; the Roundcube option check will skip loudly" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packages=(roundcube-core roundcube-plugins)
if ! (cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null 2>&1); then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1; fi
  if ! (cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null 2>&1); then
    echo "install-roundcube: apt-get download ${packages[*]} failed" >&2
    exit 0
  fi
fi
rm -rf "$dest" && mkdir -p "$dest"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$dest"; done
echo "install-roundcube: ${packages[*]} $(dpkg-deb -f "$work"/roundcube-core_*.deb Version) in $dest"
