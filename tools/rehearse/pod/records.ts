/**
 * What the rehearsal's DNS (../dns.ts) answers for the pod: the planned zone, with the server's
 * own name pointing at the pod (where the planned A/AAAA record names the public address), the
 * relay's name at the Brevo stand-in and the outside sender's domain at the outside client.
 */
import type { ProgramRun } from "../../offline/mock-program";
import { plannedRecords, type DnsRecord } from "../dns";
import {
  OUTSIDE_ADDRESS,
  OUTSIDE_DOMAIN,
  OUTSIDE_NAME,
  POD_ADDRESS,
  RELAY_ADDRESS,
} from "./addresses";

/** The relay's host name and port from DEFAULT_RELAY_HOST (`[host]:port`). */
export function relayHostPort(env: Record<string, string>): { host: string; port: number } {
  const m = /^\[?([^\]:]+)\]?(?::(\d+))?$/.exec(env.DEFAULT_RELAY_HOST ?? "");
  if (!m) throw new Error(`DEFAULT_RELAY_HOST "${env.DEFAULT_RELAY_HOST}" is not [host]:port`);
  return { host: m[1], port: Number(m[2] ?? 25) };
}

/** The pod's records; `extra` are a scenario's stand-ins. */
export function podRecords(
  run: ProgramRun,
  env: Record<string, string>,
  extra: DnsRecord[],
): DnsRecord[] {
  const hostname = env.HOSTNAME;
  const zone = plannedRecords(run).filter(
    (r) => !(r.name === hostname && (r.type === "A" || r.type === "AAAA")),
  );
  return [
    ...zone,
    { name: hostname, type: "A", content: POD_ADDRESS },
    { name: relayHostPort(env).host, type: "A", content: RELAY_ADDRESS },
    { name: OUTSIDE_DOMAIN, type: "A", content: OUTSIDE_ADDRESS },
    { name: OUTSIDE_NAME, type: "A", content: OUTSIDE_ADDRESS },
    ...extra,
  ];
}
