/**
 * The sending MTA's side of scenario 6: mailauth's strict RFC 8461 client fetching the policy.
 * What stands in for the Internet: a resolver answering `_mta-sts` from the planned TXT record and
 * the policy host with loopback (for a custom domain Cloudflare creates that record itself:
 * developers.cloudflare.com/workers/configuration/routing/custom-domains), and workerd's ephemeral
 * port instead of 443. mailauth has no hook for its HTTPS request (it calls `https.request` with
 * `port: 443` and `agent: false`), so for the length of the one `getPolicy` call, and only for the
 * request to the policy host at loopback, the port is swapped and the throwaway certificate is
 * trusted.
 */
import type { ClientRequest, IncomingMessage } from "node:http";
import type { RequestOptions } from "node:https";
// The module object itself (not an ES namespace): the one mailauth's own require sees.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import httpsModule = require("node:https");
import * as mailauth from "mailauth/lib/mta-sts";
import type { MTASTSPolicyResult } from "mailauth/lib/mta-sts";
import type { PlannedWorker } from "./plan";
import { LOOPBACK } from "./workerd";

/** What workerd answered to mailauth's request, read from the same response mailauth parsed. */
export interface Served {
  /** The URL mailauth asked for (its host, its path). */
  url: string;
  status: number;
  contentType: string;
  /** The body as far as it arrived. */
  body: Buffer;
  /** False when mailauth dropped the response before its end (it stops reading at a non-200). */
  complete: boolean;
}

/** A DNS resolver for mailauth: `_mta-sts` from the plan, the policy host at loopback. */
function resolverFor(worker: PlannedWorker, txt: string | undefined) {
  return (name: string, type: string): Promise<string[] | string[][]> => {
    if (name === `_mta-sts.${worker.domain}` && type === "TXT" && txt !== undefined) {
      return Promise.resolve([[txt]]);
    }
    if (name === worker.host && type === "A") return Promise.resolve([LOOPBACK]);
    return Promise.reject(Object.assign(new Error(`no ${type} for ${name}`), { code: "ENODATA" }));
  };
}

type Respond = (res: IncomingMessage) => void;
type RequestFn = (...args: unknown[]) => ClientRequest;

/** mailauth's policy request: `https.request(options, cb)` to the policy host at loopback. */
function isPolicyRequest(args: unknown[], host: string): args is [RequestOptions, Respond?] {
  const [options] = args;
  if (typeof options !== "object" || options === null || options instanceof URL) return false;
  const o = options as RequestOptions;
  return args.length <= 2 && o.host === LOOPBACK && o.servername === host;
}

/**
 * Runs `fn` with Node's `https.request` sending the policy request (to `host` at loopback) to
 * workerd's port, trusting `ca` for that request alone, and recording what workerd answered.
 * Every other request passes through untouched; the original is restored after.
 */
async function withPolicyRoute<T>(
  route: { host: string; port: number; ca: string },
  fn: () => Promise<T>,
): Promise<{ value: T; served?: Served }> {
  const original = httpsModule.request as unknown as RequestFn;
  let served: Served | undefined;
  const routed: RequestFn = (...args) => {
    if (!isPolicyRequest(args, route.host)) return original(...args);
    const [options, cb] = args;
    return original({ ...options, port: route.port, ca: route.ca }, (res: IncomingMessage) => {
      served = recordResponse(`https://${route.host}${options.path ?? ""}`, res);
      cb?.(res);
    });
  };
  Object.assign(httpsModule, { request: routed });
  try {
    return { value: await fn(), served };
  } finally {
    Object.assign(httpsModule, { request: original });
  }
}

/** Tees the response body; mailauth's own listener attaches in the same tick, so both see all. */
function recordResponse(url: string, res: IncomingMessage): Served {
  const served: Served = {
    url,
    status: res.statusCode ?? 0,
    contentType: String(res.headers["content-type"] ?? ""),
    body: Buffer.alloc(0),
    complete: false,
  };
  const chunks: Buffer[] = [];
  res.on("data", (c: Buffer) => {
    chunks.push(c);
    served.body = Buffer.concat(chunks);
  });
  res.on("end", () => (served.complete = true));
  return served;
}

/**
 * mailauth's strict `getPolicy` for the Worker's domain, the `_mta-sts` TXT being `txt` and the
 * policy host served by workerd on `port` with the certificate `ca`.
 */
export function fetchPolicy(
  worker: PlannedWorker,
  txt: string | undefined,
  workerd: { port: number; ca: string },
): Promise<{ value: MTASTSPolicyResult; served?: Served }> {
  return withPolicyRoute({ host: worker.host, ...workerd }, () =>
    mailauth.getPolicy(worker.domain, null, {
      resolver: resolverFor(worker, txt),
      strict: true,
      timeout: 10_000,
    }),
  );
}
