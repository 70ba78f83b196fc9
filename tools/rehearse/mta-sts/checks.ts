/**
 * Scenario 6's judgements of the policy mailauth fetched: found without lax acceptances, every
 * MX of the zone valid, an attacker's host refused, and the `_mta-sts` id following the bytes.
 */
import { createHash } from "node:crypto";
import * as mailauth from "mailauth/lib/mta-sts";
import type { MTASTSPolicyResult } from "mailauth/lib/mta-sts";
import type { Served } from "./client";
import type { PlannedWorker, ZoneMx } from "./plan";

/** A host that is no MX of the zone: the policy must refuse it. */
const ATTACKER_MX = "mx.attacker.example";

export interface Check {
  ok: boolean;
  line: string;
}

export function fetchCheck(worker: PlannedWorker, r: MTASTSPolicyResult, served?: Served): Check {
  const runtime =
    `Worker ${worker.scriptName} (${worker.mainModule}, compatibility date ` +
    `${worker.compatibilityDate ?? "unset"}) on ${worker.host} via ${worker.via}`;
  const answer = served
    ? `GET ${served.url}: workerd ${served.status} ${served.contentType || "(no content-type)"}, ` +
      (served.complete ? `${served.body.length} bytes` : "body not read")
    : "mailauth never asked workerd";
  const p = r.policy as MTASTSPolicyResult["policy"] & {
    error?: { code?: string; message: string };
  };
  const parsed =
    r.status === "found"
      ? `found, mode ${p.mode}, max_age ${p.maxAge}, mx ${(p.mx ?? []).join(" ")}`
      : `${r.status}${p.error ? ` (${p.error.code ?? "?"}: ${p.error.message})` : ""}`;
  const lax = r.warnings?.length ? `, lax acceptances ${r.warnings.join(" ")}` : "";
  return {
    ok: r.status === "found" && !r.warnings?.length,
    line: `${runtime}: ${answer}; mailauth strict getPolicy: ${parsed}${lax}`,
  };
}

export function mxCheck(mx: ZoneMx, r: MTASTSPolicyResult): Check {
  const v = mailauth.validateMx(mx.host, r.policy);
  const ok = r.status === "found" && v.valid;
  const answer = v.valid ? `valid (mode ${v.mode})` : `refused (mode ${v.mode})`;
  return { ok, line: `MX ${mx.host} (${mx.from}): validateMx ${answer}` };
}

export function attackerCheck(r: MTASTSPolicyResult): Check {
  const v = mailauth.validateMx(ATTACKER_MX, r.policy);
  const ok = r.status === "found" && !v.valid;
  const answer = v.valid ? `valid (mode ${v.mode}): an attacker's MX would be trusted` : "refused";
  return { ok, line: `MX ${ATTACKER_MX} (no MX of the zone): validateMx ${answer}` };
}

/**
 * The id rule, written out here rather than calling the program: the `_mta-sts` id is the first 20
 * hex digits of the SHA-256 of the policy file's bytes (docs/policies.md, mta-sts-served;
 * docs/operations.md, MTA-STS). RFC 8461 §3.1 asks only that the id be 1-32 letters or digits and
 * change whenever the policy does, which a hash of the served bytes guarantees.
 */
export function idCheck(txt: string | undefined, served?: Served): Check {
  const id = /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(txt ?? "")?.[1];
  if (!served?.complete) {
    return { ok: false, line: `_mta-sts id=${id ?? "(none)"}: no policy bytes served to hash` };
  }
  const digest = createHash("sha256").update(served.body).digest("hex");
  const ok = id !== undefined && id === digest.slice(0, 20);
  return {
    ok,
    line:
      `_mta-sts TXT ${JSON.stringify(txt ?? "(not planned)")} vs SHA-256 of the ${served.body.length} ` +
      `bytes workerd served, first 20 hex digits ${digest.slice(0, 20)}: ${ok ? "match" : "mismatch"}`,
  };
}
