/**
 * Scenario 5 (tools/rehearse/webmail.ts): Debian's Roundcube 1.6.5 with the rendered webmail
 * configuration, in headless Chromium, logs in, sends over submission and sees the message in the
 * inbox; the screenshot is a PNG. Negative control: the rendered ROUNDCUBEMAIL_DEFAULT_HOST
 * pointed at a host the cluster does not have fails the login, and so does a tls-peer.inc.php naming
 * another peer (the certificate check is on). Afterwards no php or chromium runs.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startPod, type MailPod } from "../../tools/rehearse/pod";
import { rehearsalProgram, type RehearsalProgram } from "../../tools/rehearse/program";
import type { RehearsalContext } from "../../tools/rehearse/scenario";
import { CHROMIUM, ROUNDCUBE_PUBLIC, webmail } from "../../tools/rehearse/webmail";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { requireTool, toolMissing } from "../helpers/tools";

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Pids of php and chromium processes (none run on this machine outside a rehearsal). */
function browserAndPhp(): string[] {
  return ["php", "chromium"].flatMap((n) =>
    spawnSync("pgrep", ["-x", n], { encoding: "utf8" }).stdout.split("\n").filter(Boolean),
  );
}

/** The planned run with the webmail Deployment's env var `name` set to `value`. */
function withWebmailEnv(run: ProgramRun, name: string, value: string): ProgramRun {
  const clone = structuredClone(run);
  const d = clone.resources.find(
    (r) =>
      r.type === "kubernetes:apps/v1:Deployment" &&
      (r.inputs.metadata as { name?: string }).name === "roundcubemail",
  );
  const env = (
    d?.inputs.spec as
      | { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }
      | undefined
  )?.template.spec.containers[0].env.find((e) => e.name === name);
  assert.ok(env, `no ${name} in the planned webmail Deployment`);
  env.value = value;
  return clone;
}

describe("rehearsal: Roundcube in Chromium against the mail pod", function () {
  this.timeout(180_000);
  let program: RehearsalProgram;
  let pod: MailPod | undefined;
  let ctx: RehearsalContext;
  let baseline: string[];
  const evidence: string[] = [];

  before(async function () {
    for (const [tool, cmd, args] of [
      ["postconf", "postconf", ["-d", "mail_version"]],
      ["dovecot", "dovecot", ["--version"]],
      ["rspamadm", "rspamadm", ["--version"]],
      ["openssl", "openssl", ["version"]],
      ["unshare", "unshare", ["--version"]],
      ["ip", "ip", ["-V"]],
      ["php", "php", ["--version"]],
      ["chromium", CHROMIUM, ["--version"]],
    ] as const) {
      requireTool(this, tool, cmd, [...args]);
    }
    if (!fs.existsSync(path.join(ROUNDCUBE_PUBLIC, "index.php")))
      toolMissing(this, "roundcube-core", `no ${ROUNDCUBE_PUBLIC}/index.php`);
    if (!/^pcre$/m.test(spawnSync("postconf", ["-m"], { encoding: "utf8" }).stdout))
      toolMissing(this, "postfix-pcre", "postconf -m lists no pcre");
    if (!fs.existsSync("/usr/lib/dovecot/lmtp"))
      toolMissing(this, "dovecot-lmtpd", "no /usr/lib/dovecot/lmtp");
    baseline = browserAndPhp();
    program = await rehearsalProgram();
    pod = await startPod(program.run);
    ctx = {
      run: program.run,
      out: fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-webmail-")),
      signal: new AbortController().signal,
    };
  });

  after(async () => {
    await pod?.stop();
    if (ctx) fs.rmSync(ctx.out, { recursive: true, force: true });
  });

  it("logs in, sends through the compose form over submission and finds the message in the inbox", async () => {
    assert.ok(pod);
    const start = Date.now();
    const r = await webmail(pod, program.passwords)(ctx);
    evidence.push(...r.evidence);
    assert.equal(r.verdict, "pass", r.evidence.join("\n"));
    assert.ok(Date.now() - start < 40_000, `took ${Date.now() - start} ms`);
    assert.ok(r.evidence.some((e) => /^login as .*: page "Roundcube Webmail :: /.test(e)));
    assert.ok(r.evidence.some((e) => /^submission: .*sasl_username=/.test(e)));
    assert.ok(
      r.evidence.some((e) => /^arrival: "rehearsal: webmail [0-9a-f]+" in the inbox/.test(e)),
    );
    assert.ok(r.evidence.some((e) => /^not rehearsed: composer plugins /.test(e)));
    assert.ok(r.files.includes("webmail/inbox.png"));
    const png = fs.readFileSync(path.join(ctx.out, "webmail", "inbox.png"));
    assert.ok(png.subarray(0, 8).equals(PNG_MAGIC), "inbox.png is no PNG");
    assert.ok(png.length > 10_000, `inbox.png is only ${png.length} bytes`);
  });

  it("negative control: ROUNDCUBEMAIL_DEFAULT_HOST pointed at a wrong host fails the login", async () => {
    assert.ok(pod);
    const run = withWebmailEnv(program.run, "ROUNDCUBEMAIL_DEFAULT_HOST", "ssl://mail-wrong");
    const r = await webmail(pod, program.passwords)({ ...ctx, run });
    evidence.push(...r.evidence);
    assert.equal(r.verdict, "fail", r.evidence.join("\n"));
    assert.ok(
      r.evidence.some((e) => /^login as .* failed/.test(e)),
      r.evidence.join("\n"),
    );
    assert.ok(
      r.evidence.some((e) => /getaddrinfo for mail-wrong failed/.test(e)),
      r.evidence.join("\n"),
    );
  });

  it("negative control: tls-peer.inc.php naming another peer fails the login (verification is on)", async () => {
    assert.ok(pod);
    const run = structuredClone(program.run);
    const cm = run.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:ConfigMap" &&
        (r.inputs.metadata as { name?: string }).name === "roundcubemail-config",
    );
    const data = cm?.inputs.data as Record<string, string> | undefined;
    assert.ok(data?.["tls-peer.inc.php"].includes("'peer_name' => '") && data, "no peer_name");
    data["tls-peer.inc.php"] = data["tls-peer.inc.php"].replace(
      /'peer_name' => '[^']+'/g,
      "'peer_name' => 'wrong.example.org'",
    );
    const r = await webmail(pod, program.passwords)({ ...ctx, run });
    evidence.push(...r.evidence);
    assert.equal(r.verdict, "fail", r.evidence.join("\n"));
    assert.ok(
      r.evidence.some((e) => /^login as .* failed/.test(e)),
      r.evidence.join("\n"),
    );
    assert.ok(
      r.evidence.some((e) => /did not match expected name `wrong\.example\.org'/.test(e)),
      r.evidence.join("\n"),
    );
  });

  it("no password reaches the evidence or the report files", () => {
    const written = fs
      .readdirSync(ctx.out, { recursive: true, encoding: "utf8" })
      .map((f) => path.join(ctx.out, f))
      .filter((f) => fs.statSync(f).isFile())
      .map((f) => fs.readFileSync(f, "latin1"))
      .join("\n");
    assert.ok(evidence.length > 0);
    for (const pass of Object.values(program.passwords))
      assert.ok(!evidence.join("\n").includes(pass), "a mailbox password reached the evidence");
    for (const pass of Object.values(program.passwords))
      assert.ok(!written.includes(pass), "a mailbox password was written");
  });

  it("leaves no php or chromium process behind", async () => {
    for (let i = 0; i < 50 && browserAndPhp().length > baseline.length; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(browserAndPhp(), baseline);
  });
});
