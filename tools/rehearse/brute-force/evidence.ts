/**
 * What scenario 4's replay shows, as evidence lines and a verdict: who was alerted and banned by
 * which hub scenario (with its bucket), whether the hub's whitelist would have hidden a client,
 * and what each client's sessions got back.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import {
  HUB,
  hubScenarioPath,
  type Alert,
  type Decision,
  type ReplayOutcome,
} from "../crowdsec-replay";
import type { Client, Session } from "./guess";

export interface Caught {
  /** Only the attacker is banned, from the file CrowdSec expanded the glob to. */
  ok: boolean;
  /** The scenarios whose alerts banned the attacker, sorted. */
  scenarios: string[];
  benignClean: boolean;
}

const decision = (d: Decision) => `${d.type} ${d.duration.replace(/\.\d+s$/, "s")}`;
const alert = (a: Alert) =>
  `${a.scenario} (${a.events_count ?? "?"} events: ${(a.decisions ?? []).map(decision).join(", ") || "no decision"})`;

/** Evidence lines and the ban check of one replay of the CRI log linked at `link`. */
export function judge(
  r: ReplayOutcome,
  link: string,
  clients: { attacker: Client; benign: Client },
  evidence: string[],
): Caught {
  const { attacker, benign } = clients;
  evidence.push(`CrowdSec ${r.version} (Debian bookworm's package), its hub snapshot ${HUB}`);
  const added = r.log.split("\n").some((l) => l.includes(`Adding file ${link} to datasources`));
  evidence.push(`CrowdSec expanded the glob to that file: ${added ? "yes" : "no"}`);
  const of = (ip: string) => ({
    alerts: r.alerts.filter((a) => a.source?.ip === ip || a.source?.value === ip),
    decisions: r.decisions.filter((d) => d.value === ip),
  });
  for (const line of r.log.split("\n").filter((l) => l.includes("performed '"))) {
    evidence.push(`CrowdSec alert: ${/msg="([^"]*)"/.exec(line)?.[1] ?? line}`);
  }
  const bad = of(attacker.address);
  for (const name of [...new Set(bad.alerts.map((a) => a.scenario))]) {
    evidence.push(`scenario fired: ${name} (${scenarioSource(name)})`);
  }
  evidence.push(
    `attacker ${attacker.address}: ${bad.alerts.length} alert(s)${bad.alerts.length ? ` ${bad.alerts.map(alert).join(", ")}` : ""}; active decisions: ${bad.decisions.map((d) => `${decision(d)} (${d.scenario})`).join(", ") || "none"}`,
  );
  const good = of(benign.address);
  evidence.push(
    `benign ${benign.address}: ${good.alerts.length} alert(s), ${good.decisions.length} decision(s)`,
  );
  const benignClean = good.alerts.length === 0 && good.decisions.length === 0;
  const banned = (a: Alert) => (a.decisions ?? []).some((d) => d.type === "ban");
  return {
    ok: added && bad.decisions.some((d) => d.type === "ban") && benignClean,
    scenarios: [...new Set(bad.alerts.filter(banned).map((a) => a.scenario))].sort(),
    benignClean,
  };
}

/** The clients the hub's crowdsecurity/whitelists parser would drop (it must be none). */
export function whitelisted(clients: Client[]): string[] {
  const file = path.join(HUB, "parsers/s02-enrich/crowdsecurity/whitelists.yaml");
  const wl = (parseAllDocuments(fs.readFileSync(file, "utf8"))[0]?.toJS() ?? {}) as {
    whitelist?: { ip?: string[]; cidr?: string[] };
  };
  const list = new net.BlockList();
  const family = (a: string) => (net.isIPv6(a) ? "ipv6" : "ipv4");
  for (const ip of wl.whitelist?.ip ?? []) list.addAddress(ip, family(ip));
  for (const c of wl.whitelist?.cidr ?? []) {
    const [addr, bits] = c.split("/");
    list.addSubnet(addr, Number(bits), family(addr));
  }
  return clients.map((c) => c.address).filter((a) => list.check(a, family(a)));
}

/** A hub scenario's file and bucket, e.g. `scenarios/crowdsecurity/x.yaml: capacity 3, leakspeed 360s`. */
function scenarioSource(name: string): string {
  const file = hubScenarioPath(name);
  if (!file) return "not in the hub snapshot";
  const doc = parseAllDocuments(fs.readFileSync(path.join(HUB, file), "utf8"))
    .map((d) => d.toJS() as { name?: string; capacity?: number; leakspeed?: string })
    .find((d) => d.name === name);
  return `hub ${file}: capacity ${doc?.capacity ?? "?"}, leakspeed ${doc?.leakspeed ?? "?"}`;
}

/** One line per client: its sessions per protocol, how many were refused and the replies. */
export function sessionLines(sessions: Session[], attacker: Client, benign: Client): string[] {
  return [attacker, benign].map((c) => {
    const mine = sessions.filter((s) => s.client === c);
    const part = (proto: string) => {
      const s = mine.filter((x) => x.proto === proto);
      const replies = [...new Set(s.map((x) => x.reply))].join(" / ");
      return `${s.length} ${proto} (${s.filter((x) => !x.accepted).length} refused: ${replies || "-"})`;
    };
    const what = c === attacker ? "wrong guesses" : "logins with the right password";
    return `${c === attacker ? "attacker" : "benign"} ${c.address} (${c.name}), ${what}: ${part("SMTP AUTH PLAIN on 587 after STARTTLS")}, ${part("IMAP LOGIN on 993")}`;
  });
}
