/** CrowdSec acquisition datasources and whether the hub's mail parsers will see their lines. */
import { parseAllDocuments } from "yaml";

export interface Datasource {
  source: string;
  filenames: string[];
  type?: string;
  program?: string;
}

export function parseAcquisition(text: string): { sources: Datasource[]; errors: string[] } {
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
    const ds: Datasource = {
      // CrowdSec treats a datasource with filename(s) and no source as a file datasource.
      source: typeof d.source === "string" ? d.source : "file",
      filenames: names.filter((n): n is string => typeof n === "string"),
    };
    if (typeof labels.type === "string") ds.type = labels.type;
    if (typeof labels.program === "string") ds.program = labels.program;
    sources.push(ds);
  }
  return { sources, errors };
}

/** Shell-style glob as used in acquisition filenames: * and ? stay within one path segment. */
export function globMatches(glob: string, path: string): boolean {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] ?? "";
    if (ch === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(path);
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
