/**
 * The facts of world/dms-15.0.0/startup.yaml (docker-mailserver 15.0.0's startup, each with its
 * source) and how an edit reads them: DMS's environment, `${NAME}` in a value, `when`
 * conditions, DMS's valid lines of a user file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ROOT } from "../../cli/project";

const DMS_STARTUP_FILE = path.join(ROOT, "world", "dms-15.0.0", "startup.yaml");

export interface PostconfParam {
  param: string;
  value: string;
  /** `append`: added to the parameter's current value (DMS's _add_to_or_update_postfix_main). */
  mode?: "append";
}

/** The machine-usable part of a startup fact (see the comment at the top of the world file). */
export interface StartupEdit {
  op: "copy" | "append" | "postconf" | "sed" | "run";
  step?: number;
  file?: string;
  text?: string;
  from?: string;
  params?: PostconfParam[];
  flag?: string;
  each_line_matching?: string;
  find?: string;
  replace?: string;
  then?: string;
  when?: Record<string, string>;
  unless_line_matches?: string;
  modules?: string[];
  command?: string[];
}

export interface StartupFact {
  id: string;
  source: { release: string; path: string; lines: string }[];
  note?: string;
  value: StartupEdit & Record<string, unknown>;
}

let cached: StartupFact[] | undefined;

/** Every fact of world/dms-15.0.0/startup.yaml, checked for the shape this helper relies on. */
export function startupFacts(): StartupFact[] {
  if (cached) return cached;
  const doc = parse(fs.readFileSync(DMS_STARTUP_FILE, "utf8")) as {
    system?: string;
    facts?: StartupFact[];
  };
  if (doc.system !== "docker-mailserver" || !Array.isArray(doc.facts)) {
    throw new Error(`${DMS_STARTUP_FILE}: expected system docker-mailserver and facts`);
  }
  for (const f of doc.facts) {
    if (!f.source?.length) throw new Error(`${DMS_STARTUP_FILE}: fact ${f.id} has no source`);
  }
  cached = doc.facts;
  return cached;
}

/** One fact by id; throws when the world file has none. */
export function startupFact(id: string): StartupFact {
  const f = startupFacts().find((x) => x.id === id);
  if (!f) throw new Error(`${DMS_STARTUP_FILE} has no fact "${id}"`);
  return f;
}

/** A fact's value with the fields `keys` required present (a typo in the world file fails loudly). */
export function need<K extends keyof StartupEdit>(
  id: string,
  ...keys: K[]
): StartupEdit & Required<Pick<StartupEdit, K>> {
  const v = startupFact(id).value;
  for (const k of keys) {
    if (v[k] === undefined) throw new Error(`${DMS_STARTUP_FILE}: fact ${id} has no value.${k}`);
  }
  return v as StartupEdit & Required<Pick<StartupEdit, K>>;
}

/**
 * The environment startup's edits read: the container's (e.g. the planned env ConfigMap), DMS's
 * defaults for what it leaves unset, and HOSTNAME/DOMAINNAME as DMS computes them (world facts).
 */
export function dmsEnvironment(container: Record<string, string>): Record<string, string> {
  const defaults = startupFact("dms:defaults").value as unknown as Record<string, string>;
  const env: Record<string, string> = { ...defaults, ...container };
  const vars = startupFact("dms:variables").value as unknown as {
    HOSTNAME: { from: string };
    DOMAINNAME: { from: string; drop_first_label_when_labels_over: number };
  };
  const hostname = env[vars.HOSTNAME.from];
  if (hostname) {
    env.HOSTNAME = hostname;
    const labels = hostname.split(".");
    if (labels.length > vars.DOMAINNAME.drop_first_label_when_labels_over) {
      env.DOMAINNAME = labels.slice(1).join(".");
    }
  }
  return env;
}

/** `${NAME}` replaced from `env`; an unknown name throws (never an empty value by accident). */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`startup edit reads \${${name}}, which is not set`);
    return v;
  });
}

/** Whether an edit's `when` conditions hold in `env`. */
export function applies(edit: StartupEdit, env: Record<string, string>): boolean {
  return Object.entries(edit.when ?? {}).every(([k, v]) => env[k] === v);
}

/** Lines DMS passes on from a user file: no blank or comment lines (_get_valid_lines_from_file). */
export function validLines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "" && !/^\s*#/.test(l));
}
