#!/usr/bin/env bash
# Debian tools for the real-tool tests: promtool (prometheus), shellcheck, yamllint, the mail daemons
# docker-mailserver 15.0.0 runs (postfix 3.7, dovecot 2.3.19.1, rspamd 3.4; Debian bookworm ships the
# same versions), php-cli for Roundcube's config, python3 and openssl for the probe's tests, ss and
# unshare for the mail pod's exec probes, and CrowdSec and Roundcube's option defaults unpacked into
# .tmp/.
# Without root or apt the real-tool tests skip loudly locally; with CI=true a missing tool fails both
# this script and the tests (tests/helpers/tools.ts).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
declare -A provides=(
  [promtool]=prometheus [shellcheck]=shellcheck [yamllint]=yamllint [postconf]=postfix
  [doveconf]=dovecot-core [dovecot]=dovecot-core [rspamadm]=rspamd [php]=php-cli
  [python3]=python3 [openssl]=openssl [ss]=iproute2 [unshare]=util-linux [sievec]=dovecot-sieve
  [chromium]=chromium
  [prometheus-pushgateway]=prometheus-pushgateway
)
need=()
for tool in "${!provides[@]}"; do
  command -v "$tool" >/dev/null || need+=("${provides[$tool]}")
done
# dovecot-imapd and dovecot-lmtpd have no command of their own: the IMAP tests and the rehearsal's
# delivery need their binaries; postfix-pcre gives Postfix the pcre maps DMS builds (both in the
# v15.0.0 image: target/scripts/build/packages.sh:103,136).
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
postconf -m 2>/dev/null | grep -qx pcre || need+=(postfix-pcre)
# The rehearsal's webmail runs Debian's Roundcube 1.6.5 itself (its PHP modules come as
# dependencies), on SQLite; no dbconfig-common database is set up for it.
[ -f /var/lib/roundcube/public_html/index.php ] || need+=(roundcube-core roundcube-plugins roundcube-sqlite3)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # policy-rc.d keeps the packages' services from starting: the tests start daemons themselves.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    fi
    echo "roundcube-core roundcube/dbconfig-install boolean false" | debconf-set-selections
    apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
      echo "install-tools: could not install ${need[*]}" >&2
  else
    echo "install-tools: not root or no apt-get; cannot install ${need[*]}" >&2
  fi
fi
missing=()
for tool in "${!provides[@]}"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
postconf -m 2>/dev/null | grep -qx pcre || missing+=(postfix-pcre)
[ -f /var/lib/roundcube/public_html/index.php ] || missing+=(roundcube-core)
bash scripts/install-crowdsec.sh
[ -x .tmp/crowdsec/usr/bin/crowdsec ] || missing+=(crowdsec)
bash scripts/install-roundcube.sh
[ -f .tmp/roundcube/etc/roundcube/defaults.inc.php ] || missing+=(roundcube)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-tools: missing ${missing[*]}" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
exit 0
