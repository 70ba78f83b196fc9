/**
 * `npm run audit -- --file STATE.json [--policy-pack-config FILE] [--json FILE]`: checks a stack
 * export (`pulumi stack export` of the live stack, or `npm run plan -- --export`) against the
 * policy pack, the way `pulumi policy analyze --file` does: every non-deleted resource (root
 * stack and providers included) goes through Analyze with its inputs, then all of them through
 * AnalyzeStack with their outputs (each falls back to the other when absent). Encrypted secrets
 * cannot be decrypted offline and are analysed as the secret string "[secret]".
 * Exit 0: no mandatory violation; 1: at least one; 2: bad input (one line on stderr, nothing
 * written).
 */
import * as path from "node:path";
import { analyze, startPack } from "../analyzer/analysis";
import { InputError, parseOptions, readInput, runCli } from "./common";
import { parseExport } from "../report/export";
import type { Violation } from "../report/model";
import { checkOutputPath, writeOutputs } from "../report/outputs";
import { readPackConfig } from "../analyzer/config";
import { PACK_DIR } from "./project";
import { jsonReport, printReport } from "../report/render";

export const HELP = `Usage: npm run audit -- --file STATE.json [options]

Checks a Pulumi stack export (version 3: \`pulumi stack export\`, or \`npm run plan -- --export\`)
against the policy pack in policy/, offline. Encrypted secrets are analysed as "[secret]".

Options:
  --file FILE                 the stack export to audit (required)
  --policy-pack-config FILE   policy pack config (default: the pack's defaults)
  --json FILE                 write the report as JSON (secret values as "[secret]")
  --help                      show this help

Exit status: 0 no mandatory violation, 1 mandatory violation(s), 2 bad input or failure.`;

const OPTIONS = {
  file: { type: "string" },
  "policy-pack-config": { type: "string" },
  json: { type: "string" },
  help: { type: "boolean" },
} as const;

export async function main(argv: string[]): Promise<number> {
  const args = parseOptions(argv, OPTIONS);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  if (typeof args.file !== "string")
    throw new InputError("--file STATE.json is required (see --help)");
  if (typeof args.json === "string") checkOutputPath(args.json, "file");
  const parsed = parseExport(readInput(args.file, "stack export"), args.file);
  const configFile =
    typeof args["policy-pack-config"] === "string" ? args["policy-pack-config"] : "";
  const packConfig = configFile ? readPackConfig(configFile) : {};

  const pack = await startPack(packConfig, configFile || "(pack defaults)", parsed.stack);
  const info = pack.packInfo;
  let violations: Violation[];
  try {
    violations = await analyze(pack, parsed.items, parsed.stackUrn);
  } finally {
    await pack.close();
  }
  const analysis = { pack: { name: info.name, version: info.version, dir: PACK_DIR }, violations };
  if (typeof args.json === "string") {
    const report = jsonReport(
      "audit",
      { stack: parsed.stack, project: parsed.project, source: args.file, configFile },
      parsed.items,
      analysis,
    );
    writeOutputs([{ kind: "file", path: args.json, text: `${JSON.stringify(report, null, 2)}\n` }]);
  }
  return printReport(
    [
      `Auditing ${args.file}: stack ${parsed.stack} (project ${parsed.project}), ${parsed.items.length} live resources.`,
      'Encrypted secrets are analysed as "[secret]"; nothing was contacted.',
      `Policy pack: ${path.relative(process.cwd(), PACK_DIR)} (config: ${configFile || "pack defaults"})`,
      ...(typeof args.json === "string" ? [`Wrote ${args.json}`] : []),
    ],
    parsed.items,
    analysis,
  );
}

if (require.main === module) runCli(main);
