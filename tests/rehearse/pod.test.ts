/**
 * The rehearsal's mail pod (tools/rehearse/pod.ts) with the real daemons: scenarios 1 and 2 pass
 * against it, and each negative control makes something observable fail: the rendered dovecot.cf
 * without its stats listener leaves no metrics on the port the program opens, and a wrong DKIM key
 * in the planned TXT record fails scenario 2. Afterwards no namespace, mount or daemon is left.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { mailIn } from "../../tools/rehearse/mail-in";
import { mailOut } from "../../tools/rehearse/mail-out";
import { POD_ADDRESS, startPod, type MailPod } from "../../tools/rehearse/pod";
import { rehearsalProgram, type RehearsalProgram } from "../../tools/rehearse/program";
import type { RehearsalContext } from "../../tools/rehearse/scenario";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { requireTool, toolMissing } from "../helpers/tools";

const DOVECOT_CF = "/tmp/docker-mailserver/dovecot.cf";
const DAEMONS = ["master", "dovecot", "rspamd"];

/** Processes named like the pod's daemons (none run on this machine outside a rehearsal). */
function daemons(): string[] {
  return DAEMONS.flatMap((d) =>
    spawnSync("pgrep", ["-x", d], { encoding: "utf8" }).stdout.split("\n").filter(Boolean),
  );
}

function leftovers(): { netns: string[]; mounts: string[]; daemons: string[] } {
  const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter((l) => l.startsWith("rehearse-"));
  const mounts = fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((l) => /rehearse-|\/run\/netns\/rehearse/.test(l));
  return { netns, mounts, daemons: daemons() };
}

/** GET of the Dovecot stats listener the program opens (dovecot.cf's inet_listener http). */
function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: POD_ADDRESS, port, path: "/metrics", timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
}

/** The planned run with the DKIM TXT of `selector` replaced by another key's. */
function withWrongDkim(run: ProgramRun, selector: string): ProgramRun {
  const der = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
    type: "spki",
    format: "der",
  });
  const clone = structuredClone(run);
  const record = clone.resources.find(
    (r) =>
      r.type === "cloudflare:index/dnsRecord:DnsRecord" &&
      String(r.inputs.name).startsWith(`${selector}._domainkey.`),
  );
  assert.ok(record, `no planned ${selector}._domainkey record`);
  record.inputs.content = `"v=DKIM1; k=rsa; p=${der.toString("base64")}"`;
  return clone;
}

describe("rehearsal: the mail pod with the real daemons", function () {
  this.timeout(180_000);
  let program: RehearsalProgram;
  let pod: MailPod | undefined;
  let ctx: RehearsalContext;
  let baseline: ReturnType<typeof leftovers>;

  before(async function () {
    for (const [tool, cmd, args] of [
      ["postconf", "postconf", ["-d", "mail_version"]],
      ["dovecot", "dovecot", ["--version"]],
      ["rspamadm", "rspamadm", ["--version"]],
      ["openssl", "openssl", ["version"]],
      ["unshare", "unshare", ["--version"]],
      ["ip", "ip", ["-V"]],
    ] as const) {
      requireTool(this, tool, cmd, [...args]);
    }
    if (!/^pcre$/m.test(spawnSync("postconf", ["-m"], { encoding: "utf8" }).stdout)) {
      toolMissing(this, "postfix-pcre", "postconf -m lists no pcre");
    }
    if (!fs.existsSync("/usr/lib/dovecot/lmtp"))
      toolMissing(this, "dovecot-lmtpd", "no /usr/lib/dovecot/lmtp");
    baseline = leftovers();
    program = await rehearsalProgram();
    pod = await startPod(program.run);
    ctx = {
      run: program.run,
      out: fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-out-")),
      signal: new AbortController().signal,
    };
  });

  after(async () => {
    await pod?.stop();
    if (ctx) fs.rmSync(ctx.out, { recursive: true, force: true });
  });

  it("scenario 1: mail in over port 25 is scanned, stored and found over IMAPS", async () => {
    assert.ok(pod);
    const r = await mailIn(pod, program.passwords)(ctx);
    assert.equal(r.verdict, "pass", r.evidence.join("\n"));
    assert.ok(r.evidence.some((e) => /queued as [0-9A-F]+/.test(e)));
    assert.ok(r.evidence.some((e) => /default: [TF]|X-Spamd-Result/.test(e)));
  });

  it("scenario 2: mail out is signed, verifies against the planned TXT and reaches the relay with the rendered credentials", async () => {
    assert.ok(pod);
    const r = await mailOut(pod, program.passwords)(ctx);
    assert.equal(r.verdict, "pass", r.evidence.join("\n"));
    assert.ok(r.evidence.some((e) => /DKIM .*: pass/.test(e)));
  });

  it("no password or key of the accounts reaches the evidence or the report files", () => {
    const written = fs
      .readdirSync(ctx.out, { recursive: true, encoding: "utf8" })
      .map((f) => path.join(ctx.out, f))
      .filter((f) => fs.statSync(f).isFile())
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
    for (const pass of Object.values(program.passwords))
      assert.ok(!written.includes(pass), "a mailbox password was written");
    assert.ok(!written.includes("PRIVATE KEY"));
  });

  it("the stats listener of the rendered dovecot.cf serves Dovecot's counters", async () => {
    const port = Number(
      /inet_listener http \{\s*port = (\d+)/.exec(
        pod?.files.find((f) => f.mountPath === DOVECOT_CF)?.content ?? "",
      )?.[1],
    );
    assert.ok(port > 0, "the rendered dovecot.cf opens no stats http listener");
    assert.match(await metrics(port), /^dovecot_/m);
  });

  it("negative control: a wrong DKIM key in the planned TXT record fails scenario 2", async () => {
    assert.ok(pod);
    const selector =
      /selector = "([^"]+)"/.exec(
        pod.files.find((f) => f.mountPath.endsWith("dkim_signing.conf"))?.content ?? "",
      )?.[1] ?? "mail";
    const r = await mailOut(
      pod,
      program.passwords,
    )({ ...ctx, run: withWrongDkim(program.run, selector) });
    assert.equal(r.verdict, "fail", r.evidence.join("\n"));
    assert.ok(
      r.evidence.some((e) => /DKIM .*: (fail|neutral|policy)/.test(e)),
      r.evidence.join("\n"),
    );
  });

  it("negative control: dovecot.cf without its stats listener leaves the port closed", async () => {
    await pod?.stop();
    pod = undefined;
    const rendered = program.run.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:ConfigMap" &&
        (r.inputs.metadata as { name?: string }).name === "mailserver-config",
    );
    const cf = String((rendered?.inputs.data as Record<string, string>)["dovecot.cf"]);
    const port = Number(/inet_listener http \{\s*port = (\d+)/.exec(cf)?.[1]);
    const without = cf.replace(/\n\s*inet_listener http \{[^}]*\}/, "");
    assert.notEqual(without, cf, "no stats listener block to remove");
    pod = await startPod(program.run, { override: { [DOVECOT_CF]: without } });
    await assert.rejects(metrics(port), /ECONNREFUSED/);
  });

  it("leaves no namespace, mount or daemon behind", async () => {
    await pod?.stop();
    pod = undefined;
    // SIGKILLed daemons are reaped by the kernel with their pid namespace; give it a moment.
    for (let i = 0; i < 50 && daemons().length > baseline.daemons.length; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(leftovers(), baseline);
  });
});
