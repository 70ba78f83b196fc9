/**
 * `npm run adopt -- --records FILE [--zone-id ID] [--namespace NS] [--stack prod] --out FILE`
 *
 * Writes the `mailserver:adopt` map for the cutover from Terraform (docs/cutover.md):
 * `{ "<resource URN>": "<import ID>" }` for the namespace, the three claims and every mail record
 * the zone already holds. Without `--records`, the zone is read through the Cloudflare API with
 * `CLOUDFLARE_API_TOKEN`. Exit 0 when the map is written, 1 when the zone holds something that
 * would break mail after cutover (one line a problem, nothing written), 2 on bad input.
 */
import { adoptTargets, TYPES } from "../../lib/adopt";
import { mailDnsPlanArgs, planMailDns } from "../../lib/dns-plan";
import { ConfigError, parseConfig, rawConfigFromPulumi, type StackConfig } from "../../lib/config";
import { matchZone, type Match } from "../adopt/match";
import { checkZoneId, fetchZone, readRecordFile, type ZoneRecord } from "../adopt/zone";
import { InputError, parseOptions, runCli } from "./common";
import { checkOutputPath, writeOutputs } from "../report/outputs";
import { loadStackConfig, PROJECT } from "./project";

/** Where main() reports: the console, or a test's collector. */
export interface Io {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

interface Options {
  records?: string;
  zoneId?: string;
  namespace?: string;
  stack: string;
  out: string;
}

const USAGE =
  "usage: npm run adopt -- [--records FILE] [--zone-id ID] [--namespace NS] [--stack NAME] --out FILE";

const OPTIONS = {
  records: { type: "string" },
  "zone-id": { type: "string" },
  namespace: { type: "string" },
  stack: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean" },
} as const;

function options(values: ReturnType<typeof parseOptions<typeof OPTIONS>>): Options {
  if (!values.out) throw new InputError("--out FILE is required (see --help)");
  checkOutputPath(values.out, "file");
  return {
    records: values.records,
    zoneId: values["zone-id"] === undefined ? undefined : checkZoneId(values["zone-id"]),
    namespace: values.namespace,
    stack: values.stack ?? "prod",
    out: values.out,
  };
}

function stackConfig(stack: string): StackConfig {
  let raw: Record<string, string>;
  try {
    raw = loadStackConfig(stack);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  try {
    return parseConfig(rawConfigFromPulumi(raw));
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new InputError(`Pulumi.${stack}.yaml: ${err.problems.join("; ")}`);
    }
    throw err;
  }
}

async function zone(
  opts: Options,
  config: StackConfig,
  env: NodeJS.ProcessEnv,
): Promise<{ zoneId: string; records: ZoneRecord[] }> {
  if (opts.records !== undefined) {
    const records = readRecordFile(opts.records);
    const ids = [...new Set(records.map((r) => r.zoneId).filter((z): z is string => !!z))];
    const zoneId = opts.zoneId ?? (ids.length === 1 ? checkZoneId(ids[0]) : undefined);
    if (!zoneId) {
      throw new InputError(
        `--zone-id is required: ${opts.records} names ${ids.length === 0 ? "no" : "more than one"} zone_id`,
      );
    }
    return { zoneId, records };
  }
  const apiToken = env.CLOUDFLARE_API_TOKEN;
  if (!apiToken) {
    throw new InputError("give --records FILE, or set CLOUDFLARE_API_TOKEN to read the zone");
  }
  return fetchZone({
    apiToken,
    baseURL: env.CLOUDFLARE_BASE_URL,
    zoneId: opts.zoneId,
    domain: config.domain,
  });
}

function report(m: Match, io: Io): void {
  const p = m.planned;
  const action = !m.existing ? "create" : m.changes ? "adopt+update" : "adopt";
  const id = m.existing ? ` (id ${m.existing.id})` : "";
  const vault = m.existing && p.value === undefined ? ", value from Vault: compare at preview" : "";
  io.stdout(`${action.padEnd(13)} ${p.type.padEnd(5)} ${p.name}${id}${vault}`);
}

/**
 * The CLI: 0 when the map is written, 1 on zone problems (one line each on stderr). Bad input
 * throws an InputError, which runCli (or a test) turns into one line and exit 2.
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const opts = options(values);
  const config = stackConfig(opts.stack);
  const problems: string[] = [];
  if (opts.namespace !== undefined && opts.namespace !== config.namespace) {
    problems.push(
      `--namespace ${opts.namespace}: the stack declares mailserver:namespace ${config.namespace}; set it to the live namespace first`,
    );
  }
  const { zoneId, records } = await zone(opts, config, env);
  const plan = mailDnsPlanArgs(config);
  const policyMx = [...plan.mxHosts.map((h) => h.hostname), ...plan.otherMxHosts];
  const result = matchZone(planMailDns(plan).records, records, policyMx);
  problems.push(...result.problems);
  if (problems.length > 0) {
    for (const p of problems) io.stderr(p);
    return 1;
  }
  const byKey = new Map(result.matches.map((m) => [m.planned.key, m]));
  const map: Record<string, string> = {};
  for (const target of adoptTargets(config, opts.stack, PROJECT)) {
    if (target.type !== TYPES.dnsRecord) {
      map[target.urn] = target.importId ?? "";
      io.stdout(`${"adopt".padEnd(13)} ${target.type} ${target.importId}`);
      continue;
    }
    const match = byKey.get(target.record?.key ?? "");
    if (match) report(match, io);
    if (match?.existing) map[target.urn] = `${zoneId}/${match.existing.id}`;
  }
  writeOutputs([{ kind: "file", path: opts.out, text: JSON.stringify(map, null, 2) + "\n" }]);
  io.stdout(`wrote ${Object.keys(map).length} import IDs to ${opts.out}`);
  return 0;
}

if (require.main === module) {
  runCli((argv) =>
    main(argv, process.env, {
      stdout: (l) => console.log(l),
      stderr: (l) => console.error(l),
    }),
  );
}
