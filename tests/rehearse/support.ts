/**
 * What the rehearsal's tests share: one mail pod per file (usePod: the tools it needs, its start
 * before the file's tests and its stop after them), the processes a test looks for (pids), the
 * report directories and what was written to them, and the check that a file leaves no network
 * namespace, mount, work directory or process behind (assertNothingLeft).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startPod, type MailPod, type PodOptions } from "../../tools/rehearse/pod";
import { rehearsalProgram, type RehearsalProgram } from "../../tools/rehearse/program";
import type { RehearsalContext } from "../../tools/rehearse/scenario";
import { requireTool, toolMissing, type Tool } from "../helpers/tools";

/** A tool probed by running `command args` (requireTool). */
export type ToolCheck = readonly [tool: Tool, command: string, args: readonly string[]];

/** What the mail pod runs (tools/rehearse/pod.ts): the daemons, its throwaway CA, its namespaces. */
const POD_TOOLS: readonly ToolCheck[] = [
  ["postconf", "postconf", ["-d", "mail_version"]],
  ["dovecot", "dovecot", ["--version"]],
  ["rspamadm", "rspamadm", ["--version"]],
  ["openssl", "openssl", ["version"]],
  ["unshare", "unshare", ["--version"]],
  ["ip", "ip", ["-V"]],
];

/** The pod's daemons by process name (none run on this machine outside a rehearsal). */
export const POD_DAEMONS = ["master", "dovecot", "rspamd"];

/** Skips the hook (fails it in CI) unless the pod's tools and `extra` run. */
export function requirePodTools(ctx: Mocha.Context, extra: readonly ToolCheck[]): void {
  for (const [tool, cmd, args] of [...POD_TOOLS, ...extra]) requireTool(ctx, tool, cmd, [...args]);
  // DMS 15.0.0's image has Postfix's pcre tables and Dovecot's LMTP; the pod uses both.
  if (!/^pcre$/m.test(spawnSync("postconf", ["-m"], { encoding: "utf8" }).stdout))
    toolMissing(ctx, "postfix-pcre", "postconf -m lists no pcre");
  if (!fs.existsSync("/usr/lib/dovecot/lmtp"))
    toolMissing(ctx, "dovecot-lmtpd", "no /usr/lib/dovecot/lmtp");
}

/** Processes by name (`pgrep -x`), or by a part of the command line (`{ cmdline }`, `pgrep -f`). */
export type Processes = readonly (string | { cmdline: string })[];

/** Pids of the processes running now, sorted. */
export function pids(processes: Processes): string[] {
  return processes
    .flatMap((p) =>
      spawnSync("pgrep", typeof p === "string" ? ["-x", p] : ["-f", p.cmdline], {
        encoding: "utf8",
      }).stdout.split("\n"),
    )
    .filter(Boolean)
    .sort();
}

/** What a rehearsal could leave on the host. */
export interface Leftovers {
  netns: string[];
  mounts: string[];
  /** This process's pod work directories (/var/tmp/rehearse-pod-<pid>-*). */
  workDirs: string[];
  processes: string[];
}

/** The rehearsal's namespaces, mounts and work directories now, and the pids of `processes`. */
export function leftovers(processes: Processes): Leftovers {
  const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter((l) => l.startsWith("rehearse-"));
  const mounts = fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((l) => /rehearse-|\/run\/netns\/rehearse/.test(l));
  // This process's pods' (startPod removes those of ended processes).
  const workDirs = fs
    .readdirSync("/var/tmp")
    .filter((n) => n.startsWith(`rehearse-pod-${process.pid}-`));
  return { netns, mounts, workDirs, processes: pids(processes) };
}

/**
 * Asserts that nothing is left beyond `baseline`. Processes get `settleMs` to go: SIGKILLed daemons
 * are reaped by the kernel with their pid namespace.
 */
export async function assertNothingLeft(
  baseline: Leftovers,
  processes: Processes,
  settleMs = 5000,
): Promise<void> {
  for (let i = 0; i < settleMs / 100 && pids(processes).length > baseline.processes.length; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(leftovers(processes), baseline);
}

/** Makes report directories (`prefix` + random) and removes them after the file's tests. */
export function useReportDirs(prefix = "rehearse-out-"): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** The text of every file under `dir` (a report directory), joined. */
export function writtenText(dir: string, encoding: BufferEncoding = "utf8"): string {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile())
    .map((f) => fs.readFileSync(f, encoding))
    .join("\n");
}

export interface UsePodOptions {
  /** Tools the file's scenarios run besides the pod's. */
  tools?: readonly ToolCheck[];
  /** Further checks before the pod starts (toolMissing skips, or fails in CI). */
  require?: (ctx: Mocha.Context) => void;
  /** The processes the file's scenarios start, besides the pod's daemons, for assertNothingLeft. */
  processes?: Processes;
  /** How long assertNothingLeft lets processes end (ms). */
  settleMs?: number;
  /** The report directory's prefix under the temp directory. */
  out?: string;
}

/** One file's mail pod, the program it runs and the scenarios' context; set by usePod's hook. */
export interface PodFixture {
  readonly program: RehearsalProgram;
  /** The running pod; undefined once stopped. */
  pod: MailPod | undefined;
  readonly ctx: RehearsalContext;
  /** The running pod (the test fails when none runs). */
  running(): MailPod;
  /** Stops the pod and starts it again with `opts` (a negative control's override). */
  restart(opts: PodOptions): Promise<MailPod>;
  stop(): Promise<void>;
  /**
   * Stops the pod, then asserts that no network namespace, mount, work directory, daemon of the
   * pod or process of the file's scenarios is left beyond what there was before the pod started.
   */
  assertNothingLeft(): Promise<void>;
}

/**
 * Registers the hooks of one pod per file (call inside `describe`): before the tests, the tools
 * are checked, what runs is noted, the program planned and the pod started; after them the pod is
 * stopped and the report directory removed.
 */
export function usePod(opts: UsePodOptions = {}): PodFixture {
  const processes = [...POD_DAEMONS, ...(opts.processes ?? [])];
  const reportDir = useReportDirs(opts.out);
  let baseline: Leftovers | undefined;
  let program: RehearsalProgram | undefined;
  let ctx: RehearsalContext | undefined;
  const fixture: PodFixture = {
    get program() {
      assert.ok(program, "the pod's hook did not plan the program");
      return program;
    },
    get ctx() {
      assert.ok(ctx, "the pod's hook did not start the pod");
      return ctx;
    },
    pod: undefined,
    running() {
      assert.ok(fixture.pod, "the mail pod is not running");
      return fixture.pod;
    },
    async restart(podOpts) {
      await fixture.stop();
      fixture.pod = await startPod(fixture.program.run, podOpts);
      return fixture.pod;
    },
    async stop() {
      const pod = fixture.pod;
      fixture.pod = undefined;
      await pod?.stop();
    },
    async assertNothingLeft() {
      assert.ok(baseline, "the pod's hook did not run");
      await fixture.stop();
      await assertNothingLeft(baseline, processes, opts.settleMs);
    },
  };
  before(async function () {
    requirePodTools(this, opts.tools ?? []);
    opts.require?.(this);
    baseline = leftovers(processes);
    program = await rehearsalProgram();
    fixture.pod = await startPod(program.run);
    ctx = { run: program.run, out: reportDir(), signal: new AbortController().signal };
  });
  after(() => fixture.stop());
  return fixture;
}
