/**
 * The host side of scenario 6: workerd (Cloudflare's own runtime, which miniflare drives:
 * node_modules/miniflare/README.md) serving the planned Worker over HTTPS on loopback, with a
 * throwaway self-signed certificate for the policy host in place of Cloudflare's.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import type { PlannedWorker } from "./plan";

/** Where the stand-in resolver puts the policy host; workerd listens here. */
export const LOOPBACK = "127.0.0.1";

export interface Tls {
  key: string;
  cert: string;
}

/** A throwaway self-signed certificate for the policy host, with the DNS-ID SAN RFC 8461 §3.3 asks. */
async function throwawayCert(host: string, dir: string, signal: AbortSignal): Promise<Tls> {
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  await promisify(execFile)(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-days", "1", "-subj", `/CN=${host}`, "-addext", `subjectAltName=DNS:${host}`],
      ...["-keyout", key, "-out", cert],
    ],
    { signal },
  );
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/** The throwaway certificate, or why openssl could not make one (then nothing is rehearsed). */
export async function certOrReason(host: string, signal: AbortSignal): Promise<Tls | string> {
  const dir = mkdtempSync(path.join(tmpdir(), "rehearse-mta-sts-"));
  try {
    return await throwawayCert(host, dir, signal);
  } catch (err) {
    if (signal.aborted) throw err;
    return `openssl could not make a throwaway certificate for ${host}: ${String(err)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** workerd serving the planned script over HTTPS on loopback (miniflare README, `https*`, `port`). */
export function startWorkerd(worker: PlannedWorker, tls: Tls): Miniflare {
  return new Miniflare({
    host: LOOPBACK,
    port: 0,
    httpsKey: tls.key,
    httpsCert: tls.cert,
    // Cloudflare runs the upload's main module; `contents` keeps it from being read from disk.
    modules: [{ type: "ESModule", path: worker.mainModule, contents: worker.content }],
    bindings: worker.bindings,
    compatibilityDate: worker.compatibilityDate,
    compatibilityFlags: worker.compatibilityFlags,
    // Placeholder `request.cf`: a real one would be fetched from Cloudflare (miniflare README, `cf`).
    cf: false,
  });
}

/** workerd's URL, or why it refused the script (a finding about the program, not a crash). */
export function started(mf: Miniflare): Promise<URL | string> {
  return mf.ready.catch((err: unknown) => `workerd did not start the Worker: ${String(err)}`);
}
