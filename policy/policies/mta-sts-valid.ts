/**
 * mta-sts-valid: the _mta-sts record parses (RFC 8461 3.1).
 *
 * Why: a malformed or duplicated _mta-sts record makes senders ignore MTA-STS, so inbound TLS is
 * silently opportunistic again. The id must be 1-32 letters/digits and must change whenever
 * https://mta-sts.<domain>/.well-known/mta-sts.txt changes (senders cache the policy by id).
 *
 * Fix: publish exactly one TXT "v=STSv1; id=<1-32 alnum>" at _mta-sts.<domain>.
 */
import { makePolicy } from "../lib/tag-record-policy";

function stsProblems(tags: Map<string, string>): string[] {
  const id = tags.get("id");
  if (id === undefined) return ["id= is required"];
  return /^[A-Za-z0-9]{1,32}$/.test(id) ? [] : [`id=${id} must be 1-32 letters or digits`];
}

export const mtaStsValid = makePolicy(
  "mta-sts-valid",
  "The _mta-sts TXT record is v=STSv1 with an id of 1-32 letters/digits, exactly once.",
  { label: "_mta-sts", version: "STSv1", check: stsProblems },
);
