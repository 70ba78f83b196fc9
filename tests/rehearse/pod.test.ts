/**
 * The rehearsal's mail pod (tools/rehearse/pod.ts) with the real daemons: scenarios 1 and 2 pass
 * against it, and each negative control makes something observable fail: the rendered dovecot.cf
 * without its stats listener leaves no metrics on the port the program opens, and a wrong DKIM key
 * in the planned TXT record fails scenario 2. Afterwards no namespace, mount or daemon is left.
 */
import * as assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mailIn } from "../../tools/rehearse/mail-in";
import { mailOut } from "../../tools/rehearse/mail-out";
import { POD_ADDRESS } from "../../tools/rehearse/pod";
import { getText } from "../../tools/rehearse/prometheus";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { usePod, writtenText } from "./support";

const DOVECOT_CF = "/tmp/docker-mailserver/dovecot.cf";

/** GET of the Dovecot stats listener the program opens (dovecot.cf's inet_listener http). */
function metrics(port: number): Promise<string> {
  return getText(`http://${POD_ADDRESS}:${port}/metrics`);
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
  const f = usePod();

  it("scenario 1: mail in over port 25 is scanned, stored and found over IMAPS", async () => {
    const r = await mailIn(f.running(), f.program.passwords)(f.ctx);
    assert.equal(r.verdict, "pass", r.evidence.join("\n"));
    assert.ok(r.evidence.some((e) => /queued as [0-9A-F]+/.test(e)));
    assert.ok(r.evidence.some((e) => /default: [TF]|X-Spamd-Result/.test(e)));
  });

  it("scenario 2: mail out is signed, verifies against the planned TXT and reaches the relay with the rendered credentials", async () => {
    const r = await mailOut(f.running(), f.program.passwords)(f.ctx);
    assert.equal(r.verdict, "pass", r.evidence.join("\n"));
    assert.ok(r.evidence.some((e) => /DKIM .*: pass/.test(e)));
  });

  it("no password or key of the accounts reaches the evidence or the report files", () => {
    const written = writtenText(f.ctx.out);
    for (const pass of Object.values(f.program.passwords))
      assert.ok(!written.includes(pass), "a mailbox password was written");
    assert.ok(!written.includes("PRIVATE KEY"));
  });

  it("the stats listener of the rendered dovecot.cf serves Dovecot's counters", async () => {
    const port = Number(
      /inet_listener http \{\s*port = (\d+)/.exec(
        f.running().files.find((file) => file.mountPath === DOVECOT_CF)?.content ?? "",
      )?.[1],
    );
    assert.ok(port > 0, "the rendered dovecot.cf opens no stats http listener");
    assert.match(await metrics(port), /^dovecot_/m);
  });

  it("negative control: a wrong DKIM key in the planned TXT record fails scenario 2", async () => {
    const pod = f.running();
    const selector =
      /selector = "([^"]+)"/.exec(
        pod.files.find((file) => file.mountPath.endsWith("dkim_signing.conf"))?.content ?? "",
      )?.[1] ?? "mail";
    const r = await mailOut(
      pod,
      f.program.passwords,
    )({ ...f.ctx, run: withWrongDkim(f.program.run, selector) });
    assert.equal(r.verdict, "fail", r.evidence.join("\n"));
    assert.ok(
      r.evidence.some((e) => /DKIM .*: (fail|neutral|policy)/.test(e)),
      r.evidence.join("\n"),
    );
  });

  it("negative control: dovecot.cf without its stats listener leaves the port closed", async () => {
    const rendered = f.program.run.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:ConfigMap" &&
        (r.inputs.metadata as { name?: string }).name === "mailserver-config",
    );
    const cf = String((rendered?.inputs.data as Record<string, string>)["dovecot.cf"]);
    const port = Number(/inet_listener http \{\s*port = (\d+)/.exec(cf)?.[1]);
    const without = cf.replace(/\n\s*inet_listener http \{[^}]*\}/, "");
    assert.notEqual(without, cf, "no stats listener block to remove");
    await f.restart({ override: { [DOVECOT_CF]: without } });
    await assert.rejects(metrics(port), (err: Error & { cause?: { code?: string } }) => {
      assert.equal(err.cause?.code, "ECONNREFUSED", String(err));
      return true;
    });
  });

  it("leaves no namespace, mount, work directory or daemon behind", () => f.assertNothingLeft());
});
