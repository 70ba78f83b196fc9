/**
 * The cutover from Terraform: `npm run adopt` against a fake Cloudflare API (through the real
 * `cloudflare` client) and against record-list files, then the program under mocks with the map
 * it wrote. The mock monitor records each registration's `import` ID and `ignoreChanges` from the
 * gRPC request the engine would receive (tools/offline/mock-program.ts).
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { TYPES } from "../../lib/adopt";
import { facts, loadWorld } from "../../tools/world/load";
import { main, type Io } from "../../tools/cli/adopt";
import { InputError } from "../../tools/cli/common";
import type { CapturedResource, ProgramRun } from "../../tools/offline/mock-program";
import { loadStackConfig, runProgram } from "../helpers/program";
import { startFakeCloudflare, type FakeCloudflare } from "./fake-cloudflare";

const TOKEN = "fake-token-must-never-be-printed";
const STATEFUL = new Set<string>([TYPES.namespace, TYPES.pvc]);

interface ZoneBody {
  success: true;
  result: (Record<string, unknown> & { id: string; type: string; name: string; content: string })[];
}

/** The live zone as world/today/cloudflare.yaml records it, as "List DNS Records" returns it. */
function worldZone(): { zoneId: string; body: ZoneBody } {
  const all = facts(loadWorld("today"), "cloudflare");
  const zone = all.find((f) => f.id === "zone viktorbarzin.me")?.value as { zone_id: string };
  const result = all
    .filter((f) => f.id.startsWith("record "))
    .map((f) => {
      const v = f.value as Record<string, unknown>;
      return {
        // Record ids are not in the owner's repository: a stable made-up id per fact.
        id: createHash("sha256").update(f.id).digest("hex").slice(0, 32),
        zone_id: zone.zone_id,
        type: String(v.type),
        name: String(v.name),
        content: String(v.content),
        proxied: v.proxied === true,
        ttl: v.ttl,
        ...(v.type === "MX" ? { priority: v.priority } : {}),
      };
    });
  return { zoneId: zone.zone_id, body: { success: true, result } };
}

const ZONE_ID = worldZone().zoneId;
const zoneBody = (): ZoneBody => worldZone().body;
const tmp = mkdtempSync(path.join(tmpdir(), "adopt-test-"));
const ZONE_FILE = path.join(tmp, "world-zone.json");
writeFileSync(ZONE_FILE, JSON.stringify(zoneBody()));
let n = 0;
const tmpFile = (name: string) => path.join(tmp, `${n++}-${name}`);

async function adopt(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { stdout: (l) => out.push(l), stderr: (l) => err.push(l) };
  // Bad input is thrown; the compiled CLI's runCli prints it as one `error:` line and exits 2.
  const code = await main(args, env, io).catch((e: unknown) => {
    if (!(e instanceof InputError)) throw e;
    err.push(`error: ${e.message}`);
    return 2;
  });
  return { code, out, err };
}

function writeZone(body: unknown): string {
  const file = tmpFile("zone.json");
  writeFileSync(file, JSON.stringify(body));
  return file;
}

/** The fixture zone with one record added. */
function zoneWith(
  extra: { id: string; type: string; name: string; content: string } & Record<string, unknown>,
): string {
  const body = zoneBody();
  body.result.push({ zone_id: ZONE_ID, proxied: false, ttl: 1, ...extra });
  return writeZone(body);
}

function recordId(body: ZoneBody, type: string, name: string, startsWith = ""): string {
  const hit = body.result.find(
    (r) => r.type === type && r.name === name && r.content.replace(/^"/, "").startsWith(startsWith),
  );
  assert.ok(hit, `fixture has ${type} ${name}`);
  return hit.id;
}

describe("cutover: npm run adopt", () => {
  let fake: FakeCloudflare;
  before(async () => {
    const body = zoneBody();
    fake = await startFakeCloudflare(
      { id: ZONE_ID, name: "viktorbarzin.me", records: body.result },
      TOKEN,
    );
  });
  after(() => fake.close());

  describe("reading the zone through the Cloudflare API (real client, fake server on loopback)", () => {
    let map: Record<string, string>;
    let result: Awaited<ReturnType<typeof adopt>>;
    before(async () => {
      const out = tmpFile("adopt.json");
      result = await adopt(["--out", out], {
        CLOUDFLARE_API_TOKEN: TOKEN,
        CLOUDFLARE_BASE_URL: fake.baseURL,
      });
      map = JSON.parse(readFileSync(out, "utf8")) as Record<string, string>;
    });

    it("exits 0 and finds the zone by name, then pages through its records", () => {
      assert.equal(result.code, 0, result.err.join("\n"));
      assert.ok(
        fake.requests.some(
          (r) => r.startsWith("/client/v4/zones?") && r.includes("name=viktorbarzin.me"),
        ),
      );
      const pages = fake.requests.filter((r) => r.includes("/dns_records"));
      assert.ok(pages.length >= 1, "listed the records");
      assert.ok(pages.every((r) => r.includes("per_page=100")));
    });

    it("maps every DNS record the program declares to <zoneId>/<recordId>", () => {
      const body = zoneBody();
      const dns = Object.entries(map).filter(([urn]) => urn.includes(TYPES.dnsRecord));
      // The 12 planned records less s1._domainkey, which the live zone lacks.
      assert.equal(dns.length, 11);
      const spfUrn = Object.keys(map).find((u) => u.endsWith("::dns-spf"));
      assert.ok(spfUrn);
      assert.equal(map[spfUrn], `${ZONE_ID}/${recordId(body, "TXT", "viktorbarzin.me", "v=spf1")}`);
      const dmarcUrn = Object.keys(map).find((u) => u.endsWith("::dns-dmarc"));
      assert.ok(dmarcUrn);
      assert.equal(map[dmarcUrn], `${ZONE_ID}/${recordId(body, "TXT", "_dmarc.viktorbarzin.me")}`);
    });

    it("maps the namespace, the three claims and the two mail Services to namespace/name", () => {
      const k8s = Object.entries(map).filter(([urn]) => !urn.includes(TYPES.dnsRecord));
      assert.deepEqual(k8s.map(([, id]) => id).sort(), [
        "mailserver",
        "mailserver/mailserver",
        "mailserver/mailserver-data-encrypted",
        "mailserver/mailserver-proxy",
        "mailserver/roundcubemail-enigma-encrypted",
        "mailserver/roundcubemail-html-encrypted",
      ]);
    });

    it("says which records change value after adoption, and never prints the token", () => {
      const lines = result.out.join("\n");
      // DMARC as live: adopted unchanged.
      assert.match(lines, /^adopt +TXT +_dmarc\.viktorbarzin\.me/m);
      assert.match(lines, /adopt\+update +TXT +_mta-sts\.viktorbarzin\.me/);
      assert.match(lines, /adopt +TXT +viktorbarzin\.me \(id [0-9a-f]{32}\)$/m);
      assert.ok(!`${lines}${result.err.join("")}`.includes(TOKEN));
    });

    it("exits 2 on a token the API refuses, without echoing it", async () => {
      const r = await adopt(["--out", tmpFile("x.json")], {
        CLOUDFLARE_API_TOKEN: "wrong-token",
        CLOUDFLARE_BASE_URL: fake.baseURL,
      });
      assert.equal(r.code, 2);
      assert.match(r.err.join("\n"), /Cloudflare API \(HTTP 401\)/);
      assert.ok(!r.err.join("\n").includes("wrong-token"));
    });
  });

  describe("reading a saved record list", () => {
    it("gives the same map as the API", async () => {
      const viaFile = tmpFile("file.json");
      const viaApi = tmpFile("api.json");
      assert.equal((await adopt(["--records", ZONE_FILE, "--out", viaFile])).code, 0);
      const api = await adopt(["--out", viaApi, "--zone-id", ZONE_ID], {
        CLOUDFLARE_API_TOKEN: TOKEN,
        CLOUDFLARE_BASE_URL: fake.baseURL,
      });
      assert.equal(api.code, 0, api.err.join("\n"));
      assert.deepEqual(
        JSON.parse(readFileSync(viaFile, "utf8")),
        JSON.parse(readFileSync(viaApi, "utf8")),
      );
    });

    it("leaves out records the zone does not hold: the program creates them", async () => {
      const out = tmpFile("adopt.json");
      const r = await adopt(["--records", ZONE_FILE, "--out", out]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.match(r.out.join("\n"), /^create +TXT +s1\._domainkey\.viktorbarzin\.me$/m);
      const map = JSON.parse(readFileSync(out, "utf8")) as Record<string, string>;
      assert.ok(!Object.keys(map).some((u) => u.endsWith("::dns-dkim-s1")));
    });

    it("leaves the other stacks' records alone: the backup MX and its A record are not adopted", async () => {
      const out = tmpFile("adopt.json");
      assert.equal((await adopt(["--records", ZONE_FILE, "--out", out])).code, 0);
      const ids = Object.values(JSON.parse(readFileSync(out, "utf8")) as Record<string, string>);
      const body = zoneBody();
      for (const [type, name, content] of [
        ["MX", "viktorbarzin.me", "mx2.viktorbarzin.me"],
        ["A", "mx2.viktorbarzin.me", ""],
      ]) {
        const id = recordId(body, type, name, content);
        assert.ok(!ids.includes(`${ZONE_ID}/${id}`), `${type} ${name} adopted`);
      }
    });
  });

  describe("refuses (exit 1, one line a problem, nothing written) a zone that would break mail", () => {
    async function refused(file: string, ...patterns: RegExp[]) {
      const out = tmpFile("refused.json");
      const r = await adopt(["--records", file, "--out", out]);
      assert.equal(r.code, 1, r.out.join("\n"));
      assert.throws(() => readFileSync(out), /ENOENT/);
      for (const p of patterns)
        assert.ok(
          r.err.some((l) => p.test(l)),
          `${p} in ${r.err.join("\n")}`,
        );
      return r.err;
    }

    it("a second SPF record", async () => {
      const err = await refused(
        zoneWith({
          id: "a".repeat(32),
          type: "TXT",
          name: "viktorbarzin.me",
          content: '"v=spf1 include:mailgun.org -all"',
        }),
        /^2 v=spf1 TXT records at viktorbarzin\.me .*delete the others/,
      );
      assert.equal(err.length, 1);
    });

    it("a second DMARC record", async () => {
      await refused(
        zoneWith({
          id: "b".repeat(32),
          type: "TXT",
          name: "_dmarc.viktorbarzin.me",
          content: "v=DMARC1; p=none",
        }),
        /^2 v=DMARC1 TXT records at _dmarc\.viktorbarzin\.me/,
      );
    });

    it("a proxied mail host", async () => {
      const body = zoneBody();
      const a = body.result.find((r) => r.type === "A" && r.name === "mail.viktorbarzin.me");
      assert.ok(a);
      a.proxied = true;
      await refused(
        writeZone(body),
        /^A mail\.viktorbarzin\.me .* is proxied, but it is a mail host/,
      );
    });

    it("a record the program would create next to a CNAME", async () => {
      const body = zoneBody();
      body.result = body.result.filter((r) => r.name !== "s1._domainkey.viktorbarzin.me");
      body.result.push({
        id: "c".repeat(32),
        type: "CNAME",
        name: "s1._domainkey.viktorbarzin.me",
        content: "s1.mailgun.org",
        proxied: false,
      });
      await refused(
        writeZone(body),
        /^CNAME s1\._domainkey\.viktorbarzin\.me .* conflicts with the TXT/,
      );
    });

    it("an MX host the published MTA-STS policy would not list", async () => {
      await refused(
        zoneWith({
          id: "d".repeat(32),
          type: "MX",
          name: "viktorbarzin.me",
          content: "mx3.example.net",
          priority: 30,
        }),
        /^MX viktorbarzin\.me "mx3\.example\.net" .* not in the MTA-STS policy .* mailserver:dns\.otherMxHosts/,
      );
    });

    it("a live namespace other than the configured one", async () => {
      const r = await adopt([
        "--records",
        ZONE_FILE,
        "--namespace",
        "mail",
        "--out",
        tmpFile("x.json"),
      ]);
      assert.equal(r.code, 1);
      assert.match(
        r.err[0],
        /^--namespace mail: the stack declares mailserver:namespace mailserver/,
      );
    });
  });

  describe("bad input exits 2", () => {
    const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
      ["no --out", ["--records", ZONE_FILE], {}, /--out FILE is required/],
      [
        "an unknown option",
        ["--record", ZONE_FILE, "--out", "x"],
        {},
        /unknown option --record \(see --help\)/,
      ],
      [
        "a malformed zone id",
        ["--records", ZONE_FILE, "--zone-id", "zone", "--out", "x"],
        {},
        /--zone-id "zone": expected 32 hex digits/,
      ],
      [
        "a missing file",
        ["--records", "/nonexistent/zone.json", "--out", "x"],
        {},
        /cannot read --records file \/nonexistent\/zone\.json: no such file/,
      ],
      ["neither a file nor a token", ["--out", "x"], {}, /set CLOUDFLARE_API_TOKEN/],
      [
        "an unknown stack",
        ["--records", ZONE_FILE, "--stack", "nope", "--out", "x"],
        {},
        /unknown stack "nope"/,
      ],
    ];
    for (const [what, args, env, pattern] of cases) {
      it(what, async () => {
        const r = await adopt(args, env);
        assert.equal(r.code, 2, r.err.join("\n"));
        assert.equal(r.err.length, 1, r.err.join("\n"));
        assert.doesNotMatch(r.err[0], /\n/);
        assert.match(r.err[0], /^error: /);
        assert.match(r.err[0], pattern);
        assert.deepEqual(r.out, []);
      });
    }

    it("--help prints the usage and exits 0", async () => {
      const r = await adopt(["--help"]);
      assert.equal(r.code, 0);
      assert.match(r.out.join("\n"), /^usage: npm run adopt -- .*--out FILE$/);
      assert.deepEqual(r.err, []);
    });

    it("a file that is not a list response, with every problem named", async () => {
      const r = await adopt([
        "--records",
        writeZone({ success: false, result: [{ id: "x" }] }),
        "--out",
        "x",
      ]);
      assert.equal(r.code, 2);
      assert.equal(r.err.length, 1, "every problem on one line");
      const text = r.err[0];
      assert.doesNotMatch(text, /\n/);
      assert.match(text, /expected success: true/);
      assert.match(text, /result\.0\.id: expected a 32-hex-digit record id/);
      assert.match(text, /List DNS Records/);
    });

    it("a file that is not JSON", async () => {
      const file = tmpFile("bad.json");
      writeFileSync(file, "<html>");
      const r = await adopt(["--records", file, "--out", "x"]);
      assert.equal(r.code, 2);
      assert.match(r.err.join("\n"), /not JSON/);
    });
  });
});

describe("cutover: the program under mocks with the map adopt wrote (done-when)", () => {
  let fake: FakeCloudflare;
  let map: Record<string, string>;
  let run: ProgramRun;
  before(async () => {
    fake = await startFakeCloudflare(
      { id: ZONE_ID, name: "viktorbarzin.me", records: zoneBody().result },
      TOKEN,
    );
    const out = tmpFile("adopt.json");
    const r = await adopt(["--out", out], {
      CLOUDFLARE_API_TOKEN: TOKEN,
      CLOUDFLARE_BASE_URL: fake.baseURL,
    });
    assert.equal(r.code, 0, r.err.join("\n"));
    map = JSON.parse(readFileSync(out, "utf8")) as Record<string, string>;
    run = await runProgram({
      config: { ...loadStackConfig("prod"), "mailserver:adopt": JSON.stringify(map) },
    });
  });
  after(() => fake.close());

  const byUrn = (urn: string): CapturedResource => {
    const hit = run.resources.find((r) => r.urn === urn);
    assert.ok(hit, `the program registers ${urn}`);
    return hit;
  };

  it("registers every URN of the map, with exactly its ID as the import option", () => {
    for (const [urn, id] of Object.entries(map)) assert.equal(byUrn(urn).importId, id, urn);
  });

  it("imports every stateful resource, both Services and every record the zone holds", () => {
    const stateful = run.resources.filter((r) => STATEFUL.has(r.type));
    const services = run.resources.filter(
      (r) => r.type === TYPES.service && r.urn.includes("mailserver:mail:MailServer$"),
    );
    const records = run.resources.filter((r) => r.type === TYPES.dnsRecord);
    assert.equal(stateful.length, 4);
    assert.equal(services.length, 2);
    for (const r of [...stateful, ...services])
      assert.notEqual(r.importId, "", `${r.urn} would be created`);
    const created = records.filter((r) => r.importId === "").map((r) => r.urn.split("::").pop());
    assert.deepEqual(created, ["dns-dkim-s1"]);
  });

  it("keeps the identity of each adopted object out of ignoreChanges, so a wrong ID fails instead of replacing", () => {
    const identity = [
      "metadata.name",
      "metadata.namespace",
      "spec.storageClassName",
      "spec.accessModes",
      "name",
      "type",
      "zoneId",
    ];
    for (const r of run.resources.filter((x) => x.importId !== "")) {
      for (const field of identity)
        assert.ok(!r.ignoreChanges.includes(field), `${r.urn} ignores ${field}`);
    }
  });

  it("protects and retains the namespace and the claims, so no update can delete or replace them", () => {
    for (const r of run.resources.filter((x) => STATEFUL.has(x.type))) {
      assert.ok(r.protect && r.retainOnDelete, r.urn);
    }
  });

  it("never sends a claim's size back (the autoresizer grows it; a claim cannot shrink)", () => {
    for (const r of run.resources.filter((x) => x.type === TYPES.pvc)) {
      assert.ok(r.ignoreChanges.includes("spec.resources.requests.storage"), r.urn);
    }
  });

  it("imports nothing and ignores only the claim sizes without the map", async () => {
    const plain = await runProgram({ config: loadStackConfig("prod") });
    assert.ok(plain.resources.every((r) => r.importId === ""));
    assert.ok(
      plain.resources.every((r) =>
        r.ignoreChanges.every((f) => f === "spec.resources.requests.storage"),
      ),
    );
  });
});

describe("cutover: a wrong mailserver:adopt is refused before anything is registered", () => {
  const urnPrefix = "urn:pulumi:prod::mailserver::";
  async function refusal(adoptMap: Record<string, string>): Promise<string> {
    const record: CapturedResource[] = [];
    const err = await runProgram({
      config: { ...loadStackConfig("prod"), "mailserver:adopt": JSON.stringify(adoptMap) },
      record,
    }).then(
      () => assert.fail("expected a refusal"),
      (e: Error) => e,
    );
    assert.deepEqual(
      record.filter((r) => r.custom),
      [],
      "no resource registered",
    );
    return err.message;
  }

  it("names an URN the program does not adopt", async () => {
    const msg = await refusal({
      [`${urnPrefix}mailserver:mail:MailServer$kubernetes:apps/v1:Deployment::mailserver-deployment`]:
        "mailserver/mailserver",
    });
    assert.match(
      msg,
      /mailserver:adopt\[".*Deployment::mailserver-deployment"\] = "mailserver\/mailserver": not a resource this program adopts/,
    );
  });

  it("names a claim ID that is not the claim the program declares", async () => {
    const msg = await refusal({
      [`${urnPrefix}mailserver:mail:MailServer$kubernetes:core/v1:PersistentVolumeClaim::mailserver-data`]:
        "mailserver/mailserver-data-proxmox",
    });
    assert.match(
      msg,
      /= "mailserver\/mailserver-data-proxmox": expected "mailserver\/mailserver-data-encrypted"/,
    );
  });

  it("names a DNS ID that is not <zoneId>/<recordId>", async () => {
    const msg = await refusal({
      [`${urnPrefix}mailserver:dns:DnsRecords$cloudflare:index/dnsRecord:DnsRecord::dns-spf`]:
        "abc",
    });
    assert.match(msg, /= "abc": expected <zoneId>\/<recordId>/);
  });
});
