/**
 * `npm run plan [-- --stack prod] [--json F] [--export F] [--manifests DIR] [--diagram F]`:
 * the offline preview. Runs the program in this process under mocks (Vault and the Cloudflare
 * zone answered by PLACEHOLDER values, tools/offline/mock-program.ts), sends every resource through the
 * policy pack's own Analyzer server (started once, as the CLI starts it) with Analyze and the
 * whole stack with AnalyzeStack, then prints the resource tree and the policy report.
 * Exit 0: no mandatory violation; 1: at least one; 2: bad input (one line on stderr, no file
 * written). Output files are written only after everything else succeeded.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { ConfigError, parseConfig, rawConfigFromPulumi, type StackConfig } from "../../lib/config";
import { analyze, startPack } from "../analyzer/analysis";
import { InputError, parseOptions, runCli } from "./common";
import { renderDiagramDoc } from "../report/diagram";
import { buildExport } from "../report/export";
import { renderManifests } from "../report/manifests";
import type { ProgramRun, RunOptions } from "../offline/mock-program";
import type * as Secrets from "../../lib/secrets";
import type { Violation } from "../report/model";
import { checkOutputPath, writeOutputs, type Output } from "../report/outputs";
import { readPackConfig } from "../analyzer/config";
import { placeholderKeys } from "../offline/placeholder-keys";
import { loadStackConfig, PACK_DIR, ROOT } from "./project";
import { jsonReport, printReport } from "../report/render";
import { itemsFromRun, readItems } from "../offline/run-items";
import { absentVaultKeys, type VaultRead } from "../offline/world-answers";
import { loadWorld, WORLDS, type World, type WorldName } from "../world/load";

/** Every Vault key the program reads (`keys`), at the paths the stack config names. */
function vaultReads(cfg: StackConfig, keys: typeof Secrets.VAULT_KEYS): VaultRead[] {
  const at = (p: { mount: string; name: string }, keys: Record<string, string>) =>
    Object.values(keys).map((key) => ({ mount: p.mount, path: p.name, key }));
  return [...at(cfg.vault.platform, keys.platform), ...at(cfg.vault.personal, keys.personal)];
}

/**
 * A key the program reads that the world's Vault lacks: the real preview fails on it (with the
 * path and key), so the plan reports it as a blocker and answers a placeholder to show the rest.
 */
function vaultBlocker(k: VaultRead): Violation {
  return {
    policyPack: "plan",
    policyPackVersion: "",
    policy: "vault-key-present",
    level: "mandatory",
    urn: `vault:${k.mount}/${k.path}`,
    message: `Vault ${k.mount}/${k.path} holds no key "${k.key}" (world/today/vault.yaml), and the program reads it: the real preview fails there. Add it before the first preview (docs/cutover.md step 4).`,
  };
}

function describeWorld(world: World): string {
  const asOf = [...new Set(Object.values(world.files).map((f) => f.as_of))].join(", ");
  return world.edits.length > 0
    ? `as of ${asOf}, with ${world.edits.length} runbook edits`
    : `as of ${asOf}`;
}

export const HELP = `Usage: npm run plan -- [options]

Runs the Pulumi program offline under mocks and checks every resource against the policy pack in
policy/. The mocks answer from the recorded world (world/): the owner's cluster, zone and Vault as
they are today, or as the cutover runbook leaves them. Vault values are PLACEHOLDERs stored in the
owner's encoding; no cloud, no cluster, no Pulumi CLI.

Options:
  --stack NAME                stack whose Pulumi.<NAME>.yaml to use (default: prod)
  --world today|ready         the world to preview against (default: today): today's recorded
                              world, or today's plus the edits docs/cutover.md asks of other
                              stacks and of the owner (world/ready/edits.yaml)
  --policy-pack-config FILE   policy pack config (default: policy/config.<NAME>.json if present,
                              else the pack's defaults)
  --json FILE                 write the report as JSON (secret inputs as "[secret]")
  --export FILE               write a Pulumi stack export (version 3) of the plan; secrets are
                              replaced by a redaction note inside Pulumi's secret envelope
  --manifests DIR             write the Kubernetes objects as YAML, one file each (secrets redacted)
  --diagram FILE              write a Markdown file with a Mermaid diagram of the components
  --help                      show this help

Exit status: 0 no mandatory violation: the program can be applied to that world; 1 mandatory
violation(s): the report names what stands between the program and that world; 2 bad input (an
option, Pulumi.<stack>.yaml, world/) or a failure of the program, one line on stderr.`;

const OPTIONS = {
  stack: { type: "string" },
  world: { type: "string" },
  "policy-pack-config": { type: "string" },
  json: { type: "string" },
  export: { type: "string" },
  manifests: { type: "string" },
  diagram: { type: "string" },
  help: { type: "boolean" },
} as const;

type MockProgram = typeof import("../offline/mock-program");

/** The program under mocks, its module loaded only now (after the pack's spawn). */
function runMocked(opts: RunOptions): Promise<ProgramRun> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runProgram } = require("../offline/mock-program") as MockProgram;
  return runProgram(opts);
}

export async function main(argv: string[]): Promise<number> {
  const args = parseOptions(argv, OPTIONS);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const stack = args.stack ?? "prod";
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(stack)) {
    throw new InputError(`invalid stack name "${stack}"`);
  }
  const worldName = args.world ?? "today";
  if (!(WORLDS as readonly string[]).includes(worldName)) {
    throw new InputError(`--world "${worldName}": expected one of ${WORLDS.join(", ")}`);
  }
  let world: World;
  try {
    world = loadWorld(worldName as WorldName);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  for (const key of ["json", "export", "diagram"] as const) {
    if (typeof args[key] === "string") checkOutputPath(args[key], "file");
  }
  if (typeof args.manifests === "string") checkOutputPath(args.manifests, "dir");

  let config: Record<string, string>;
  try {
    config = loadStackConfig(stack, ROOT);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  // Every problem of the stack config in one line, before the pack or the program starts.
  let parsed: StackConfig;
  try {
    parsed = parseConfig(rawConfigFromPulumi(config));
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new InputError(`Pulumi.${stack}.yaml: ${err.problems.join("; ")}`);
    }
    throw err;
  }
  const defaultConfig = path.join(PACK_DIR, `config.${stack}.json`);
  const configFile =
    typeof args["policy-pack-config"] === "string"
      ? args["policy-pack-config"]
      : existsSync(defaultConfig)
        ? path.relative(process.cwd(), defaultConfig)
        : "";
  const packConfig = configFile ? readPackConfig(configFile) : {};

  // The pack starts in its own process (as under the CLI), spawned before this process loads the
  // Pulumi SDK (lib/secrets is its first importer), so that the two start-ups overlap.
  const packStart = startPack(packConfig, configFile || "(pack defaults)", stack);
  // Started before the SDK loads, so the keys are generated in libuv's thread pool meanwhile.
  void placeholderKeys();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { VAULT_KEYS } = require("../../lib/secrets") as typeof Secrets;
  const absent = absentVaultKeys(world, vaultReads(parsed, VAULT_KEYS));
  const [started, ran] = await Promise.allSettled([
    packStart,
    runMocked({ config, stack, world, vaultFill: absent }),
  ]);
  if (started.status === "fulfilled" && ran.status === "rejected") await started.value.close();
  if (started.status === "rejected") throw started.reason;
  if (ran.status === "rejected") {
    throw new Error(`the program failed under mocks: ${(ran.reason as Error).message}`);
  }
  const pack = started.value;
  const info = pack.packInfo;
  const run: ProgramRun = ran.value;

  const items = itemsFromRun(run);
  let violations;
  try {
    violations = [...absent.map(vaultBlocker), ...(await analyze(pack, items, run.stackUrn))];
  } finally {
    await pack.close();
  }
  const analysis = {
    pack: { name: info.name, version: info.version, dir: PACK_DIR },
    violations,
  };
  const project = run.stackUrn.split("::")[1] ?? "";

  // Everything succeeded: render all outputs first, then write them, then print.
  const outputs: Output[] = [];
  if (typeof args.json === "string") {
    const report = jsonReport(
      "plan",
      {
        stack,
        project,
        source: `Pulumi.${stack}.yaml under mocks against world/${worldName}`,
        configFile,
      },
      items,
      analysis,
    );
    outputs.push({ kind: "file", path: args.json, text: `${JSON.stringify(report, null, 2)}\n` });
  }
  if (typeof args.export === "string") {
    const doc = buildExport([...readItems(run), ...items], run.stackUrn);
    outputs.push({ kind: "file", path: args.export, text: `${JSON.stringify(doc, null, 2)}\n` });
  }
  if (typeof args.manifests === "string") {
    outputs.push({ kind: "dir", path: args.manifests, files: renderManifests(items) });
  }
  if (typeof args.diagram === "string") {
    outputs.push({ kind: "file", path: args.diagram, text: renderDiagramDoc(items, stack) });
  }
  writeOutputs(outputs);

  return printReport(
    [
      `Previewing stack ${stack} (project ${project}) offline against world/${worldName}: the program`,
      `ran under mocks answering from the recorded world (${describeWorld(world)}); Vault values`,
      "are placeholders stored in the owner's encoding; nothing was deployed.",
      `Policy pack: ${path.relative(process.cwd(), PACK_DIR)} (config: ${configFile || "pack defaults"})`,
      ...outputs.map(
        (o) => `Wrote ${o.path}${o.kind === "dir" ? `/ (${o.files.length} files)` : ""}`,
      ),
    ],
    items,
    analysis,
  );
}

if (require.main === module) runCli(main);
