/**
 * The MTA-STS seam from the sender's side: the Worker the program deploys runs over real HTTPS on
 * loopback, and mailauth's MTA-STS client (strict RFC 8461 mode) discovers the `_mta-sts` TXT the
 * program publishes, fetches the policy as a sending MTA does and validates the MX host with it.
 *
 * What stands in for the Internet: a resolver answering from the program's own DNS records (with
 * the policy host at 127.0.0.1), a self-signed certificate for mta-sts.<domain> trusted by the
 * client, the server's ephemeral port instead of 443, and a few lines that hand Node's HTTPS
 * requests to the Worker's `fetch` handler as the Workers runtime does.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
// The module object itself (not an ES namespace), as mailauth's own require sees it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import httpsModule = require("node:https");
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as mtaSts from "mailauth/lib/mta-sts";
import type { ProgramRun } from "../../tools/offline/mock-program";
import { at, find, loadStackConfig, ofType, prodRun, runProgram } from "../helpers/program";
import { requireTool } from "../helpers/tools";

const DOMAIN = "viktorbarzin.me";
const HOST = `mta-sts.${DOMAIN}`;

interface Binding {
  type: string;
  name: string;
  text: string;
}
type WorkerModule = {
  default: { fetch(request: Request, env: Record<string, string>): Promise<Response> };
};

/** A TXT record's text as DNS delivers it: Cloudflare's quoted strings joined. */
function txtText(content: string): string {
  return [...content.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join("");
}

function selfSignedCert(dir: string, openssl: string): { key: string; cert: string } {
  const r = spawnSync(openssl, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${HOST}`,
    "-addext",
    `subjectAltName=DNS:${HOST}`,
    "-keyout",
    path.join(dir, "key.pem"),
    "-out",
    path.join(dir, "cert.pem"),
  ]);
  assert.equal(r.status, 0, r.stderr?.toString());
  return {
    key: readFileSync(path.join(dir, "key.pem"), "utf8"),
    cert: readFileSync(path.join(dir, "cert.pem"), "utf8"),
  };
}

/** Serves the Worker module over HTTPS on 127.0.0.1, passing each request to its fetch handler. */
async function serveWorker(
  worker: WorkerModule,
  env: Record<string, string>,
  tlsFiles: { key: string; cert: string },
): Promise<https.Server> {
  const server = https.createServer(tlsFiles, (req, res) => {
    const request = new Request(`https://${req.headers.host ?? HOST}${req.url ?? "/"}`, {
      method: req.method ?? "GET",
    });
    void worker.default.fetch(request, env).then(async (response) => {
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** A DNS resolver answering from the program's records; the policy host resolves to loopback. */
function resolverFor(mtaStsTxt: string) {
  return (name: string, type: string): Promise<string[] | string[][]> => {
    if (name === `_mta-sts.${DOMAIN}` && type === "TXT") return Promise.resolve([[mtaStsTxt]]);
    if (name === HOST && type === "A") return Promise.resolve(["127.0.0.1"]);
    return Promise.reject(Object.assign(new Error(`no ${type} for ${name}`), { code: "ENODATA" }));
  };
}

/** What a run deploys for MTA-STS: the Worker module on disk, its policy binding, the TXT text. */
interface Deployed {
  workerFile: string;
  binding: Binding;
  txt: string;
}

/** Writes `run`'s Worker module into a fresh directory (a new module URL per run). */
function deployed(run: ProgramRun): Deployed {
  const [script] = ofType(run, "cloudflare:index/workersScript:WorkersScript");
  const dir = mkdtempSync(path.join(tmpdir(), "mta-sts-"));
  const workerFile = path.join(dir, at<string>(script, "mainModule"));
  writeFileSync(workerFile, at<string>(script, "content"));
  const [binding] = at<Binding[]>(script, "bindings");
  const txt = txtText(
    at<string>(find(run, "cloudflare:index/dnsRecord:DnsRecord", "dns-mta-sts"), "content"),
  );
  return { workerFile, binding, txt };
}

/** The prod stack with `mailserver:dns` mtaSts.mode set to `mode`, the input an operator edits. */
function runWithMode(mode: string): Promise<ProgramRun> {
  const config = loadStackConfig("prod");
  const dns = JSON.parse(config["mailserver:dns"]) as { mtaSts: { mode: string } };
  dns.mtaSts.mode = mode;
  return runProgram({ config: { ...config, "mailserver:dns": JSON.stringify(dns) } });
}

const idOf = (txt: string) => /id=([A-Za-z0-9]+)/.exec(txt)?.[1];

describe("MTA-STS policy served over HTTPS, fetched as a sender does", function () {
  let run: ProgramRun;
  let prod: Deployed;
  let binding: Binding;
  let txt: string;
  let tlsFiles: { key: string; cert: string };
  const servers: https.Server[] = [];

  before(async function () {
    const openssl = requireTool(this, "openssl", "openssl", ["version"]);
    run = await prodRun();
    prod = deployed(run);
    ({ binding, txt } = prod);
    tlsFiles = selfSignedCert(mkdtempSync(path.join(tmpdir(), "mta-sts-tls-")), openssl);
  });
  after(() => servers.forEach((s) => s.close()));

  /** Starts a deployed Worker (prod's by default) with `text` as its policy; returns the port. */
  async function start(text: string, site: Deployed = prod): Promise<number> {
    const worker = (await import(pathToFileURL(site.workerFile).href)) as WorkerModule;
    const server = await serveWorker(worker, { [site.binding.name]: text }, tlsFiles);
    servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  /** mailauth's getPolicy, its HTTPS request sent to `port` and trusting the test certificate. */
  async function senderFetch(port: number, publishedTxt = txt) {
    const request = https.request;
    const redirected = ((options: https.RequestOptions, cb: never) =>
      request({ ...options, port, ca: tlsFiles.cert }, cb)) as typeof https.request;
    Object.assign(httpsModule, { request: redirected });
    try {
      return await mtaSts.getPolicy(DOMAIN, null, {
        resolver: resolverFor(publishedTxt),
        strict: true,
        timeout: 10_000,
      });
    } finally {
      Object.assign(httpsModule, { request });
    }
  }

  /** The raw response a sender receives: status, media type and the exact bytes. */
  async function rawFetch(port: number, pathname: string) {
    return new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
      const req = https.get(
        { host: "127.0.0.1", port, path: pathname, servername: HOST, ca: tlsFiles.cert },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              type: String(res.headers["content-type"] ?? ""),
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      req.on("error", reject);
    });
  }

  it("parses strictly, carries the TXT id and lets the MX host through", async () => {
    const port = await start(binding.text);
    const result = await senderFetch(port);
    assert.equal(result.status, "found", JSON.stringify(result.policy.error?.message ?? result));
    assert.equal(result.warnings, undefined, `lax acceptances: ${String(result.warnings)}`);
    const { policy } = result;
    assert.equal(policy.id, idOf(txt));
    assert.equal(policy.mode, "enforce");
    const mxHost = at<string>(
      find(run, "cloudflare:index/dnsRecord:DnsRecord", "dns-mx-mail.viktorbarzin.me"),
      "content",
    );
    // Every MX a sender may use must pass: the program's and the backup mx2 (another stack's).
    assert.deepEqual(policy.mx, [mxHost, "mx2.viktorbarzin.me"]);
    assert.equal(mtaSts.validateMx(mxHost, policy).valid, true);
    assert.equal(mtaSts.validateMx("mx2.viktorbarzin.me", policy).valid, true);
    assert.equal(mtaSts.validateMx("mx.attacker.example", policy).valid, false);
  });

  it("serves text/plain bytes whose SHA-256 is the published id, and nothing elsewhere", async () => {
    const port = await start(binding.text);
    const ok = await rawFetch(port, "/.well-known/mta-sts.txt");
    assert.equal(ok.status, 200);
    assert.match(ok.type, /^text\/plain\b/);
    const digest = createHash("sha256").update(ok.body).digest("hex");
    assert.ok(txt.endsWith(`id=${digest.slice(0, 20)}`), `${txt} vs ${digest}`);
    assert.match(ok.body.toString("utf8"), /^version: STSv1\r\n/);
    assert.equal((await rawFetch(port, "/")).status, 404);
  });

  it("a mode changed in the stack config publishes a new id, and the served bytes hash to it", async () => {
    const testing = deployed(await runWithMode("testing"));
    const newId = idOf(testing.txt);
    assert.ok(newId, testing.txt);
    assert.notEqual(newId, idOf(txt), "the policy changed but its _mta-sts id did not");
    const port = await start(testing.binding.text, testing);
    const served = await rawFetch(port, "/.well-known/mta-sts.txt");
    assert.equal(served.status, 200);
    assert.match(served.body.toString("utf8"), /\r\nmode: testing\r\n/);
    const digest = createHash("sha256").update(served.body).digest("hex");
    assert.equal(newId, digest.slice(0, 20), `${testing.txt} vs sha256 ${digest}`);
    // A strict sender accepts it under the new id.
    const result = await senderFetch(port, testing.txt);
    assert.equal(result.status, "found", JSON.stringify(result.policy.error?.message ?? result));
    assert.equal(result.policy.id, newId);
    assert.equal(result.policy.mode, "testing");
  });
});
