/**
 * `npm run plan [-- --stack prod] [--json F] [--export F] [--manifests DIR] [--diagram F]`:
 * the offline preview. Runs the program in this process under mocks (Vault and the Cloudflare
 * zone answered by PLACEHOLDER values, tools/mock-program.ts), sends every resource through the
 * policy pack's own Analyzer server (started once, as the CLI starts it) with Analyze and the
 * whole stack with AnalyzeStack, then prints the resource tree and the policy report.
 * Exit 0: no mandatory violation; 1: at least one; 2: bad input (one line on stderr, no file
 * written). Output files are written only after everything else succeeded.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { analyze, startPack } from "./analysis";
import { InputError, parseOptions, runCli } from "./cli";
import { renderDiagramDoc } from "./diagram";
import { buildExport, itemsFromRun, readItems } from "./export";
import { renderManifests } from "./manifests";
import type { ProgramRun, RunOptions } from "./mock-program";
import { checkOutputPath, writeOutputs, type Output } from "./outputs";
import { readPackConfig } from "./pack-config";
import { loadStackConfig, PACK_DIR, ROOT } from "./project";
import { jsonReport, printReport } from "./render";

export const HELP = `Usage: npm run plan -- [options]

Runs the Pulumi program offline under mocks (Vault answered by PLACEHOLDER values; no cloud, no
cluster, no Pulumi CLI) and checks every resource against the policy pack in policy/.

Options:
  --stack NAME                stack whose Pulumi.<NAME>.yaml to use (default: prod)
  --policy-pack-config FILE   policy pack config (default: policy/config.<NAME>.json if present,
                              else the pack's defaults)
  --json FILE                 write the report as JSON (secret inputs as "[secret]")
  --export FILE               write a Pulumi stack export (version 3) of the plan; secrets are
                              replaced by a redaction note inside Pulumi's secret envelope
  --manifests DIR             write the Kubernetes objects as YAML, one file each (secrets redacted)
  --diagram FILE              write a Markdown file with a Mermaid diagram of the components
  --help                      show this help

Exit status: 0 no mandatory violation, 1 mandatory violation(s), 2 bad input or failure.`;

const OPTIONS = {
  stack: { type: "string" },
  "policy-pack-config": { type: "string" },
  json: { type: "string" },
  export: { type: "string" },
  manifests: { type: "string" },
  diagram: { type: "string" },
  help: { type: "boolean" },
} as const;

/** The program under mocks, its module (and with it the SDK) loaded only now. */
function runMocked(opts: RunOptions): Promise<ProgramRun> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runProgram } = require("./mock-program") as typeof import("./mock-program");
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
  const defaultConfig = path.join(PACK_DIR, `config.${stack}.json`);
  const configFile =
    typeof args["policy-pack-config"] === "string"
      ? args["policy-pack-config"]
      : existsSync(defaultConfig)
        ? path.relative(process.cwd(), defaultConfig)
        : "";
  const packConfig = configFile ? readPackConfig(configFile) : {};

  // The pack starts in its own process (as under the CLI), spawned before this process loads the
  // Pulumi SDK, so that the two start-ups overlap.
  const [started, ran] = await Promise.allSettled([
    startPack(packConfig, configFile || "(pack defaults)", stack),
    runMocked({ config, stack }),
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
    violations = await analyze(pack, items, run.stackUrn);
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
      { stack, project, source: `Pulumi.${stack}.yaml under mocks`, configFile },
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
      `Previewing stack ${stack} (project ${project}) offline: the program ran under mocks, Vault`,
      "and the Cloudflare zone were answered by PLACEHOLDER values; nothing was deployed.",
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
