/** CrowdSec acquisition datasources and whether the hub's mail parsers will see their lines. */
import { parseAllDocuments } from "yaml";
import { goGlobMatches } from "./go-glob";
import { kindOf } from "./k8s";
import { memoize } from "./memo";
import type { DmsContainer } from "./stack";

/** Parsed once per distinct text and shared by every caller, hence read-only (and frozen). */
export interface Datasource {
  readonly source: string;
  readonly filenames: readonly string[];
  readonly type?: string;
  readonly program?: string;
  /** `poll_without_inotify: true`: the file is polled instead of followed by inotify. */
  readonly polls: boolean;
  /** Top-level keys of the document, as the agent's strict decoder sees them. */
  readonly keys: readonly string[];
  readonly mode?: unknown;
  readonly excludeRegexps: readonly unknown[];
}

export interface Acquisition {
  readonly sources: readonly Datasource[];
  readonly errors: readonly string[];
}

/** The datasources of an acquisition file (multi-document YAML) and its YAML errors. */
export const parseAcquisition: (text: string) => Acquisition = memoize(parseAcquisitionText);

function parseAcquisitionText(text: string): Acquisition {
  const sources: Datasource[] = [];
  const errors: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      errors.push(...doc.errors.map((e) => e.message));
      continue;
    }
    const js: unknown = doc.toJS();
    if (typeof js !== "object" || js === null) continue;
    const d = js as Record<string, unknown>;
    const labels = (typeof d.labels === "object" && d.labels !== null ? d.labels : {}) as Record<
      string,
      unknown
    >;
    const names: unknown[] = [
      d.filename,
      ...(Array.isArray(d.filenames) ? (d.filenames as unknown[]) : []),
    ];
    sources.push(
      Object.freeze({
        // CrowdSec treats a datasource with filename(s) and no source as a file datasource.
        source: typeof d.source === "string" ? d.source : "file",
        filenames: Object.freeze(names.filter((n): n is string => typeof n === "string")),
        polls: d.poll_without_inotify === true,
        keys: Object.freeze(Object.keys(d)),
        ...(d.mode !== undefined ? { mode: d.mode } : {}),
        excludeRegexps: Object.freeze(Array.isArray(d.exclude_regexps) ? d.exclude_regexps : []),
        ...(typeof labels.type === "string" ? { type: labels.type } : {}),
        ...(typeof labels.program === "string" ? { program: labels.program } : {}),
      }),
    );
  }
  return Object.freeze({ sources: Object.freeze(sources), errors: Object.freeze(errors) });
}

/** The hub parsers' program filters (crowdsecurity/hub @ b03cb59b). */
export const PARSERS = {
  "postfix-logs": (program: string) => program.endsWith("/smtpd"),
  "dovecot-logs": (program: string) => program === "dovecot",
} as const;

export type ParserName = keyof typeof PARSERS;

/**
 * Can `parser` see lines of a datasource? Pod logs (containerd/docker) carry the program label
 * for every line; syslog-typed files take the program from each line, so both parsers apply.
 */
export function feedsParser(ds: Datasource, parser: ParserName): boolean {
  if (ds.type === "syslog") return true;
  if (ds.type !== "containerd" && ds.type !== "docker") return false;
  return ds.program !== undefined && PARSERS[parser](ds.program);
}

/**
 * Where the CrowdSec agent image loads acquisitions from: acquis.yaml and every *.yaml|*.yml in
 * acquis.d (crowdsecurity/crowdsec build/docker/config.yaml; pkg/csconfig/crowdsec_service.go).
 */
export const ACQUIS_FILE = "/etc/crowdsec/acquis.yaml";
export const ACQUIS_DIR = "/etc/crowdsec/acquis.d";

/** Is `path` a file the agent loads as an acquisition? */
export function isAcquisitionPath(path: string): boolean {
  if (path === ACQUIS_FILE) return true;
  const slash = path.lastIndexOf("/");
  return path.slice(0, slash) === ACQUIS_DIR && /\.ya?ml$/.test(path.slice(slash + 1));
}

/** Does a directory mount at `mountPath` cover acquis.d (hiding what is mounted beneath it)? */
export function coversAcquisDir(mountPath: string): boolean {
  const dir = mountPath.replace(/\/+$/, "") || "/";
  return dir === "/" || `${ACQUIS_DIR}/`.startsWith(`${dir}/`);
}

/** A concrete pod log path of the container, as the kubelet names it under /var/log/containers. */
export function podLogPath(c: DmsContainer): string {
  const kind = kindOf(c.workload.type);
  const pod =
    kind === "Pod"
      ? c.workloadName
      : kind === "StatefulSet"
        ? `${c.workloadName}-0`
        : kind === "Deployment"
          ? `${c.workloadName}-5d8f7c9b6d-x7k2p`
          : `${c.workloadName}-x7k2p`;
  return `/var/log/containers/${pod}_${c.namespace}_${c.container.name}-${"0".repeat(64)}.log`;
}

/** Does a datasource read the container's logs (pod logs, or DMS's syslog file when typed syslog)? */
export function readsMailLog(ds: Datasource, c: DmsContainer, mailLogFiles: string[]): boolean {
  if (ds.source !== "file") return false;
  const paths = ds.type === "syslog" ? mailLogFiles : [podLogPath(c)];
  return ds.filenames.some((glob) => paths.some((p) => goGlobMatches(glob, p)));
}
