/**
 * tls-rpt-valid: the _smtp._tls record parses (RFC 8460 3).
 *
 * Why: a malformed or duplicated TLS-RPT record means senders never report TLS failures to us,
 * so a broken certificate or MTA-STS policy goes unnoticed.
 *
 * Fix: publish exactly one TXT "v=TLSRPTv1; rua=mailto:postmaster@<domain>" (mailto: or https:
 * URIs, comma-separated) at _smtp._tls.<domain>.
 */
import { makePolicy } from "../lib/tag-record-policy";

function tlsRptProblems(tags: Map<string, string>): string[] {
  const rua = tags.get("rua");
  if (rua === undefined) return ["rua= is required"];
  return rua
    .split(",")
    .map((u) => u.trim())
    .filter((u) => !/^mailto:[^@\s]+@[^@\s]+$/i.test(u) && !/^https:\/\/\S+$/i.test(u))
    .map((u) => `rua URI "${u}" must be mailto: or https:`);
}

export const tlsRptValid = makePolicy(
  "tls-rpt-valid",
  "The _smtp._tls TXT record is v=TLSRPTv1 with mailto:/https: rua URIs, exactly once.",
  { label: "_smtp._tls", version: "TLSRPTv1", check: tlsRptProblems },
);
