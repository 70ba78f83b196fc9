/**
 * Roundcube's configuration as the roundcube/roundcubemail image's entrypoint writes it from the
 * webmail Deployment's env (roundcube/roundcubemail-docker @ ce5fe1f, apache/docker-entrypoint.sh),
 * laid out in a work directory: the config dir, the /var/roundcube layer with the mounted
 * ConfigMap files, the CA and the hosts file PHP's mount namespace uses (./server.ts).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgramRun } from "../../offline/mock-program";
import { containerEnv, mountedFiles, type MountedFile } from "../mounts";
import { POD_ADDRESS } from "../pod";

export const NS = "mailserver";
export const DEPLOYMENT = "roundcubemail";
/** Debian's roundcube-core: the code and the option defaults. */
const ROUNDCUBE_SHARE = "/usr/share/roundcube";
const DEBIAN_CONFIG = "/etc/roundcube";
/** The image's SQLite DSN (docker-entrypoint.sh:103-107 with its defaults). */
const SQLITE_DSN = "sqlite:////var/roundcube/db/sqlite.db?mode=0646";

/** A PHP single-quoted string literal. */
function phpString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * config/config.inc.php and config/config.docker.inc.php as the image's entrypoint writes them
 * (apache/docker-entrypoint.sh @ ce5fe1f): the root file of lines 157-170, then lines 176-188
 * (imap_host = DEFAULT_HOST:DEFAULT_PORT, smtp_host = SMTP_SERVER:SMTP_PORT, the defaults of lines
 * 113-121, plugins merged from ROUNDCUBEMAIL_PLUGINS), the enigma homedir of lines 205-208 and an
 * include of each /var/roundcube/config/*.php (lines 210-213). `db_dsnw` is the entrypoint's
 * SQLite DSN (its own fallback, lines 102-111), not the MySQL one of the rendered DB_* variables.
 */
function entrypointConfig(
  env: Record<string, string>,
  includes: string[],
): { root: string; docker: string } {
  const e = (k: string, dflt = "") => env[`ROUNDCUBEMAIL_${k}`] || dflt;
  const desKey = randomBytes(18).toString("base64").slice(0, 24);
  const root = [
    "<?php",
    "$config['plugins'] = [];",
    "$config['log_driver'] = 'stdout';",
    "$config['zipdownload_selection'] = true;",
    `$config['des_key'] = ${phpString(desKey)};`,
    "$config['enable_spellcheck'] = true;",
    "$config['spellcheck_engine'] = 'pspell';",
    "include(__DIR__ . '/config.docker.inc.php');",
    "",
  ].join("\n");
  const plugins = e("PLUGINS", "archive,zipdownload")
    .split(/[, ]+/)
    .filter(Boolean)
    .map(phpString)
    .join(", ");
  const lines = [
    "<?php",
    `$config['db_dsnw'] = ${phpString(SQLITE_DSN)};`,
    `$config['db_dsnr'] = ${phpString(e("DSNR"))};`,
    `$config['imap_host'] = ${phpString(`${e("DEFAULT_HOST", "localhost")}:${e("DEFAULT_PORT", "143")}`)};`,
    `$config['smtp_host'] = ${phpString(`${e("SMTP_SERVER", "localhost")}:${e("SMTP_PORT", "587")}`)};`,
    `$config['username_domain'] = ${phpString(e("USERNAME_DOMAIN"))};`,
    `$config['temp_dir'] = ${phpString(e("TEMP_DIR", "/tmp/roundcube-temp"))};`,
    `$config['skin'] = ${phpString(e("SKIN", "elastic"))};`,
    `$config['request_path'] = ${phpString(e("REQUEST_PATH", "/"))};`,
    `$config['plugins'] = array_filter(array_unique(array_merge($config['plugins'], [${plugins}])));`,
  ];
  if (/\benigma\b/.test(e("PLUGINS")) && !includes.some((f) => /enigma_pgp_homedir/.test(f)))
    lines.push("$config['enigma_pgp_homedir'] = '/var/roundcube/enigma';");
  for (const f of includes) lines.push(`include(${phpString(f)});`);
  return { root, docker: [...lines, ""].join("\n") };
}

/** The peer names the mounted PHP config files verify (`'peer_name' => '...'`). */
function peerNames(mounted: { content: string }[]): string[] {
  const names = mounted.flatMap((f) =>
    [...f.content.matchAll(/'peer_name'\s*=>\s*'([^']+)'/g)].map((m) => m[1]),
  );
  return [...new Set(names)];
}

/** RCMAIL_VERSION of the installed Roundcube. */
function roundcubeVersion(): string {
  const iniset = path.join(ROUNDCUBE_SHARE, "program", "include", "iniset.php");
  return /RCMAIL_VERSION', '([^']+)'/.exec(fs.readFileSync(iniset, "utf8"))?.[1] ?? "?";
}

/** Names the cluster DNS gives each planned Service of the namespace serving IMAPS. */
function mailServiceNames(run: ProgramRun): string[] {
  return run.resources
    .filter((r) => r.type === "kubernetes:core/v1:Service")
    .flatMap((r) => {
      const m = r.inputs.metadata as { name?: string; namespace?: string } | undefined;
      const ports = (r.inputs.spec as { ports?: { port?: number }[] } | undefined)?.ports ?? [];
      if (m?.namespace !== NS || !m.name || !ports.some((p) => p.port === 993)) return [];
      return [
        m.name,
        `${m.name}.${NS}`,
        `${m.name}.${NS}.svc`,
        `${m.name}.${NS}.svc.cluster.local`,
      ];
    });
}

export interface Site {
  env: Record<string, string>;
  /** The files the Deployment mounts under /var/roundcube/config/. */
  mounted: MountedFile[];
  /** The mail Services' cluster names, pointed at the pod. */
  names: string[];
  configDir: string;
  /** config.docker.inc.php's text. */
  docker: string;
}

/** The work tree: the hosts file, the CA, Roundcube's config dir and the /var/roundcube layer. */
export function layOut(run: ProgramRun, caPem: string, work: string): Site {
  const env = containerEnv(run, NS, DEPLOYMENT);
  const mounted = mountedFiles(run, NS, DEPLOYMENT).filter((f) =>
    f.mountPath.startsWith("/var/roundcube/config/"),
  );
  const names = mailServiceNames(run);
  fs.writeFileSync(
    path.join(work, "hosts"),
    `${fs.readFileSync("/etc/hosts", "utf8")}\n${POD_ADDRESS} ${names.join(" ")}\n`,
  );
  fs.writeFileSync(path.join(work, "ca.pem"), caPem);
  const configDir = path.join(work, "config");
  fs.mkdirSync(configDir);
  for (const f of ["defaults.inc.php", "mimetypes.php"])
    fs.copyFileSync(path.join(DEBIAN_CONFIG, f), path.join(configDir, f));
  const includes = mounted.filter((f) => f.mountPath.endsWith(".php")).map((f) => f.mountPath);
  const config = entrypointConfig(env, includes.sort());
  fs.writeFileSync(path.join(configDir, "config.inc.php"), config.root);
  fs.writeFileSync(path.join(configDir, "config.docker.inc.php"), config.docker);
  for (const d of ["db", "enigma", "config"])
    fs.mkdirSync(path.join(work, "var/roundcube", d), { recursive: true });
  for (const f of mounted) {
    const file = path.join(work, "var", f.mountPath.slice("/var/".length));
    fs.writeFileSync(file, f.content, { mode: f.mode });
  }
  return { env, mounted, names, configDir, docker: config.docker };
}

/** The evidence on the configuration: what stands in for what, and what is not rehearsed. */
export function siteEvidence({ env, mounted, names }: Site): string[] {
  const lines = [
    `config: Roundcube ${roundcubeVersion()} (Debian roundcube-core) with the entrypoint mapping (roundcube/roundcubemail-docker@ce5fe1f docker-entrypoint.sh:157-213) of the rendered env: imap_host ${env.ROUNDCUBEMAIL_DEFAULT_HOST}:${env.ROUNDCUBEMAIL_DEFAULT_PORT}, smtp_host ${env.ROUNDCUBEMAIL_SMTP_SERVER}:${env.ROUNDCUBEMAIL_SMTP_PORT}, plugins ${env.ROUNDCUBEMAIL_PLUGINS}; ${mounted.map((f) => `${f.mountPath} from ${f.source}`).join(", ") || "no mounted config file"}`,
    `database: SQLite (${SQLITE_DSN}, the entrypoint's own fallback) in place of the rendered ${env.ROUNDCUBEMAIL_DB_TYPE ?? "?"} at ${env.ROUNDCUBEMAIL_DB_HOST ?? "?"}; schema from ${ROUNDCUBE_SHARE}/SQL/sqlite.initial.sql on first use`,
  ];
  const composer = env.ROUNDCUBEMAIL_COMPOSER_PLUGINS;
  const installed = (env.ROUNDCUBEMAIL_PLUGINS ?? "")
    .split(/[, ]+/)
    .filter(Boolean)
    .map((p) => [p, fs.existsSync(path.join(ROUNDCUBE_SHARE, "plugins", p))] as const);
  const listed = (ok: boolean) =>
    installed
      .filter(([, i]) => i === ok)
      .map(([p]) => p)
      .join(", ");
  if (composer)
    lines.push(
      `not rehearsed: composer plugins ${composer} (the entrypoint's \`composer require\` needs Packagist); plugins missing here: ${listed(false)}; loaded from Debian's roundcube-plugins: ${listed(true)}`,
    );
  lines.push(
    `DNS for PHP only (unshare --mount, bind-mounted /etc/hosts): ${names[0] ?? "(no mail Service planned)"} → ${POD_ADDRESS}; TLS: the rendered peer_name ${peerNames(mounted).join(", ") || "(none)"} checked against the pod's throwaway CA (php -d openssl.cafile)`,
  );
  return lines;
}
