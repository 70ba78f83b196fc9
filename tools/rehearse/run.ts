/**
 * `npm run rehearse -- --out <dir>`: the stack's mail path brought up on this machine from the
 * program's own plan (under mocks answered from world/ready) and DMS 15.0.0's startup edits, then
 * each scenario in order: a pass/fail/"not rehearsed" line with its evidence, a summary table on
 * stdout, `<out>/report.md`. Exit 1 when a scenario fails. The pod (namespace, mounts, daemons)
 * is torn down on every way out: a normal end, an error, Ctrl-C or a crash.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InputError, parseOptions, runCli } from "../cli/common";
import { bruteForce } from "./brute-force";
import { mailIn } from "./mail-in";
import { mailOut } from "./mail-out";
import { mtaSts } from "./mta-sts";
import { startPod, type MailPod } from "./pod";
import { probe } from "./probe";
import { rehearsalProgram } from "./program";
import type { RehearsalContext, Scenario, ScenarioResult } from "./scenario";
import { webmail } from "./webmail";

const USAGE = "usage: npm run rehearse -- --out <dir>";

interface Timed extends ScenarioResult {
  ms: number;
}

function progress(line: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${line}\n`);
}

/** One scenario, timed; a throw becomes a failure with the error as its evidence. */
async function runOne(name: string, scenario: Scenario, ctx: RehearsalContext): Promise<Timed> {
  progress(`… ${name}`);
  const start = Date.now();
  let r: ScenarioResult;
  try {
    r = await scenario(ctx);
  } catch (err) {
    r = {
      name,
      verdict: "fail",
      evidence: [`error: ${(err as Error).message.split("\n")[0]}`],
      files: [],
    };
  }
  const timed = { ...r, ms: Date.now() - start };
  progress(
    `${timed.verdict === "pass" ? "✓" : timed.verdict === "fail" ? "✗" : "-"} ${timed.name} (${(timed.ms / 1000).toFixed(1)} s)`,
  );
  return timed;
}

function line(r: Timed): string {
  return `${r.verdict.toUpperCase()} ${r.name}${r.evidence.length ? ": " + r.evidence[0] : ""}`;
}

function table(results: Timed[]): string {
  const w = Math.max(...results.map((r) => r.name.length), 8);
  const rows = results.map(
    (r) =>
      `| ${r.name.padEnd(w)} | ${r.verdict.padEnd(13)} | ${(r.ms / 1000).toFixed(1).padStart(6)} s |`,
  );
  return [
    `| ${"scenario".padEnd(w)} | verdict       |   time   |`,
    `|${"-".repeat(w + 2)}|---------------|----------|`,
    ...rows,
  ].join("\n");
}

function report(results: Timed[], timings: Record<string, number>): string {
  const parts = [
    "# Rehearsal report",
    "",
    `Program under mocks: ${(timings.program / 1000).toFixed(1)} s; pod start: ${((timings.pod ?? 0) / 1000).toFixed(1)} s; total: ${(timings.total / 1000).toFixed(1)} s.`,
    "",
    table(results),
    "",
  ];
  for (const r of results) {
    parts.push(`## ${r.name}: ${r.verdict}`, "", ...r.evidence.map((e) => `- ${e}`), "");
    if (r.files.length) parts.push("Files:", "", ...r.files.map((f) => `- [${f}](${f})`), "");
  }
  return parts.join("\n");
}

/** The pod's logs (mail.log, rspamd.log, the CRI copy) into the report folder. */
function savePodFiles(pod: MailPod, out: string): string[] {
  const dir = path.join(out, "pod");
  fs.mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    ["mail.log", pod.read("/var/log/mail/mail.log")],
    ["rspamd.log", pod.read("/var/log/mail/rspamd.log")],
    ["mail.cri.log", fs.existsSync(pod.criLog) ? fs.readFileSync(pod.criLog, "utf8") : ""],
  ];
  for (const [name, text] of files) fs.writeFileSync(path.join(dir, name), text);
  return files.map(([name]) => `pod/${name}`);
}

async function main(argv: string[]): Promise<number> {
  const opts = parseOptions(argv, { out: { type: "string" }, help: { type: "boolean" } });
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (!opts.out) throw new InputError(`--out <dir> is required (${USAGE})`);
  const out = path.resolve(opts.out);
  fs.mkdirSync(out, { recursive: true });
  const total = Date.now();
  const controller = new AbortController();
  const { run, passwords } = await rehearsalProgram();
  const timings: Record<string, number> = { program: Date.now() - total };
  const ctx: RehearsalContext = { run, out, signal: controller.signal };
  const results: Timed[] = [];
  let pod: MailPod | undefined;
  // An `exit` handler: Ctrl-C and crashes end in process.exit, which runs no finally block.
  const teardown = () => pod?.stopSync();
  process.once("exit", teardown);
  try {
    progress("… starting the mail pod");
    pod = await startPod(run);
    timings.pod = pod.startMs;
    progress(`  pod up in ${(pod.startMs / 1000).toFixed(1)} s`);
    results.push(await runOne("1 Mail in", mailIn(pod, passwords), ctx));
    results.push(await runOne("2 Mail out", mailOut(pod, passwords), ctx));
    results.push(await runOne("3 Probe and Prometheus", probe(pod, passwords), ctx));
    results.push(await runOne("4 CrowdSec brute force", bruteForce(pod, passwords), ctx));
    results.push(await runOne("5 Roundcube in Chromium", webmail(pod, passwords), ctx));
    results.push(await runOne("6 MTA-STS", mtaSts, ctx));
    results[0].files.push(...savePodFiles(pod, out));
  } finally {
    controller.abort();
    await pod?.stop();
    process.removeListener("exit", teardown);
  }
  timings.total = Date.now() - total;
  for (const r of results) console.log(line(r));
  console.log(`\n${table(results)}`);
  fs.writeFileSync(path.join(out, "report.md"), report(results, timings));
  console.log(`\nreport: ${path.join(out, "report.md")}`);
  return results.some((r) => r.verdict === "fail") ? 1 : 0;
}

if (require.main === module) runCli(main);
