/**
 * Two objects that must agree, judged on the program's planned resources with the prod pack
 * config: the key Rspamd signs with and the DKIM TXT a receiver verifies against
 * (dkim-signing-published), and the Worker script on mta-sts.<domain> and the scripts the pack
 * knows serve the policy binding (mta-sts-worker-known). Each edit is one a careless operator
 * could make to the plan; the oracle is the consumer's rule, written out here.
 */
import * as assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import {
  UNKNOWN,
  type AnalyzerResource,
  type Diagnostic,
  type PackConfig,
} from "../../tools/analyzer/client";
import { itemsFromRun } from "../../tools/offline/run-items";
import { wrapSecret } from "../../tools/report/model";
import { prodRun } from "../helpers/program";
import { PACK_DIR, summary, usePack } from "./harness";

const PROD_CONFIG = JSON.parse(
  readFileSync(path.join(PACK_DIR, "config.prod.json"), "utf8"),
) as PackConfig;
const KNOWN = (PROD_CONFIG["mta-sts-worker-known"] as { knownScripts: Props[] }).knownScripts;
const POLICIES = ["dkim-signing-published", "mta-sts-worker-known"];
const KEY_PATH = "/tmp/docker-mailserver/rspamd/dkim/rsa-2048-mail-viktorbarzin.me.private.txt";
const WHO = "Rspamd in mailserver/mailserver (container docker-mailserver)";

type Props = Record<string, unknown>;
interface PodSpec {
  containers: { volumeMounts: { name: string; mountPath: string; subPath?: string }[] }[];
  volumes: { name: string; secret?: { defaultMode?: number } }[];
}

/** Every resource of the prod plan as the engine sends it (inputs), components included. */
async function planned(): Promise<AnalyzerResource[]> {
  return itemsFromRun(await prodRun())
    .filter((i) => !i.external)
    .map((i) => ({
      type: i.type,
      name: i.name,
      urn: i.urn,
      properties: structuredClone(i.inputs),
    }));
}

function props(plan: AnalyzerResource[], type: string, name: string): Props {
  const r = plan.find((x) => x.type === type && x.name === name);
  if (!r) throw new Error(`the plan has no ${type} ${name}`);
  return r.properties;
}

const podSpec = (plan: AnalyzerResource[]) =>
  (
    props(plan, "kubernetes:apps/v1:Deployment", "mailserver-deployment").spec as {
      template: { spec: PodSpec };
    }
  ).template.spec;
const dkimMount = (plan: AnalyzerResource[]) => {
  const mount = podSpec(plan).containers[0]?.volumeMounts.find((m) => m.name === "dkim");
  if (!mount) throw new Error("the mail container mounts no dkim volume");
  return mount;
};
const script = (plan: AnalyzerResource[]) =>
  props(plan, "cloudflare:index/workersScript:WorkersScript", "mta-sts-worker");
const configData = (plan: AnalyzerResource[]) =>
  props(plan, "kubernetes:core/v1:ConfigMap", "mailserver-config").data as Record<string, string>;

describe("cross-object checks (the program's plan, prod pack config)", function () {
  this.timeout(180_000);
  const pack = usePack(PROD_CONFIG);
  let plan: AnalyzerResource[];

  before(async () => {
    plan = await planned();
  });

  /** Both policies are stack policies: what AnalyzeStack reports for the edited plan. */
  async function judged(edit: (p: AnalyzerResource[]) => void): Promise<Diagnostic[]> {
    const copy = structuredClone(plan);
    edit(copy);
    const res = await pack().analyzeStack(copy);
    return res.diagnostics.filter((d) => POLICIES.includes(d.policyName));
  }

  const messages = (ds: Diagnostic[], level = "mandatory") =>
    ds.filter((d) => d.enforcementLevel === level).map((d) => d.message.split("\n").pop() ?? "");

  it("judges the plan and finds nothing: both policies apply", async () => {
    const res = await pack().analyzeStack(plan);
    const mine = res.diagnostics.filter((d) => POLICIES.includes(d.policyName));
    assert.deepEqual(mine, [], summary(mine));
    assert.deepEqual(
      res.notApplicable.filter((n) => POLICIES.includes(n.policyName)),
      [],
    );
  });

  describe("mta-sts-worker-known", () => {
    it("lists the digest of the script the program renders, the content the rehearsal runs", () => {
      // tools/rehearse/mta-sts.ts (scenario 6) runs this same planned `content` in workerd.
      const digest = createHash("sha256")
        .update(String(script(plan).content), "utf8")
        .digest("hex");
      assert.deepEqual(
        KNOWN.map((k) => [k.sha256, k.binding]),
        [[digest, "MTA_STS_POLICY"]],
      );
      assert.equal(script(plan).mainModule, "mta-sts.mjs");
    });

    it("refuses a script changed by one line as unknown, naming its digest", async () => {
      let content = "";
      const ds = await judged((p) => {
        const s = script(p);
        s.content = String(s.content).replace(
          '"/.well-known/mta-sts.txt"',
          '"/.well-known/mta-sts"',
        );
        content = String(s.content);
      });
      const digest = createHash("sha256").update(content, "utf8").digest("hex");
      assert.deepEqual(messages(ds), [
        `cannot verify: Worker script mta-sts-viktorbarzin-me (sha256 ${digest}) is not one the pack knows serves MTA_STS_POLICY at /.well-known/mta-sts.txt; review it and list its digest in mta-sts-worker-known.knownScripts (policy/config.prod.json) with a reason.`,
      ]);
    });

    it("refuses the known script uploaded as a service worker (bodyPart, no mainModule)", async () => {
      const ds = await judged((p) => {
        const s = script(p);
        s.bodyPart = s.mainModule;
        delete s.mainModule;
      });
      assert.equal(messages(ds).length, 1, summary(ds));
      assert.match(messages(ds)[0] ?? "", /bodyPart, no mainModule \(not a module Worker\)/);
    });

    it("refuses static assets, which Cloudflare serves before the script", async () => {
      const ds = await judged((p) => {
        script(p).assets = { directory: "public" };
      });
      assert.match(messages(ds)[0] ?? "", /^cannot verify: .* serves mta-sts with assets,/);
    });

    it("reports the known script without its binding: it would serve no policy", async () => {
      const ds = await judged((p) => {
        const [binding] = script(p).bindings as { name: string }[];
        if (binding) binding.name = "POLICY";
      });
      assert.deepEqual(messages(ds), [
        "Worker script mta-sts-viktorbarzin-me (mta-sts-worker) runs a script that serves the plain_text binding MTA_STS_POLICY at /.well-known/mta-sts.txt, but has no such binding: senders get no policy. Bind the policy as plain_text MTA_STS_POLICY (MtaStsSite does).",
      ]);
    });
  });

  describe("dkim-signing-published", () => {
    it("reports a private key that is not the published one", async () => {
      const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
      const pem = other.export({ format: "pem", type: "pkcs8" }).toString();
      const ds = await judged((p) => {
        const secret = props(p, "kubernetes:core/v1:Secret", "mailserver-dkim");
        secret.stringData = wrapSecret({ "dkim.private.txt": pem });
      });
      assert.equal(messages(ds).length, 1, summary(ds));
      assert.match(
        messages(ds)[0] ?? "",
        /signs with selector "mail" using Secret mailserver\/mailserver-dkim key dkim\.private\.txt \(an RSA key, public key sha256 [0-9a-f]{16}\), but dns-dkim-mail publishes an RSA key that is not its public key at mail\._domainkey\.viktorbarzin\.me/,
      );
      assert.ok(!messages(ds)[0]?.includes("PRIVATE KEY"), "the message leaks the key");
    });

    it("reports a selector the conf signs with that has no TXT", async () => {
      const ds = await judged((p) => {
        const data = configData(p);
        data["dkim_signing.conf"] = (data["dkim_signing.conf"] ?? "").replaceAll(
          'selector = "mail";',
          'selector = "mail2026";',
        );
      });
      assert.deepEqual(messages(ds), [
        `${WHO} signs viktorbarzin.me with selector "mail2026" (/tmp/docker-mailserver/rspamd/override.d/dkim_signing.conf domain.viktorbarzin.me), but the stack publishes no TXT at mail2026._domainkey.viktorbarzin.me: receivers fail every such signature (RFC 6376 §3.6.2). Publish that key's TXT (DnsRecords dkimKeys) or sign with a published selector.`,
      ]);
    });

    it("reports a key path no mount provides, and a subPath that projects another key", async () => {
      const moved = await judged((p) => {
        dkimMount(p).mountPath = "/tmp/docker-mailserver/rspamd/dkim/mail.key";
      });
      assert.match(
        messages(moved)[0] ?? "",
        new RegExp(
          `key file ${KEY_PATH.replaceAll(".", "\\.")} .*but the pod does not mount it \\(no volumeMount covers`,
        ),
      );
      const remapped = await judged((p) => {
        dkimMount(p).subPath = "private.txt";
      });
      assert.match(
        messages(remapped)[0] ?? "",
        /does not mount it \(Secret mailserver\/mailserver-dkim projects no file at private\.txt \(volume dkim\)\)/,
      );
    });

    it("reports a key file _rspamd cannot read", async () => {
      const ds = await judged((p) => {
        const secret = podSpec(p).volumes.find((v) => v.name === "dkim")?.secret;
        if (secret) secret.defaultMode = 0o400;
      });
      assert.equal(messages(ds).length, 1, summary(ds));
      assert.match(messages(ds)[0] ?? "", /has mode 0400; Rspamd runs as _rspamd/);
    });

    it("leaves a key unknown at preview (Vault) to the advisory, mandatory on outputs", async () => {
      const ds = await judged((p) => {
        props(p, "kubernetes:core/v1:Secret", "mailserver-dkim").stringData = {
          "dkim.private.txt": UNKNOWN.string,
        };
      });
      assert.deepEqual(messages(ds), [], summary(ds));
      assert.equal(messages(ds, "advisory").length, 1, summary(ds));
      assert.match(messages(ds, "advisory")[0] ?? "", /can't be known during preview/);
    });

    it("refuses a conf outside the UCL subset it parses", async () => {
      const ds = await judged((p) => {
        const data = configData(p);
        data["dkim_signing.conf"] =
          `.include "/etc/rspamd/dkim.conf"\n${data["dkim_signing.conf"]}`;
      });
      assert.equal(messages(ds).length, 1, summary(ds));
      assert.match(
        messages(ds)[0] ?? "",
        /^cannot verify: .*dkim_signing\.conf: line 1: macros \(\.include, \.priority, \.\.\.\) are outside the subset/,
      );
    });
  });
});
