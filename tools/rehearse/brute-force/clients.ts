/**
 * The guessing and the benign client as the pod sees them: their addresses on the host end of
 * the pod's veth, their names in the pod's /etc/hosts (both ways, as for OUTSIDE_NAME) and in
 * the rehearsal's DNS.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import type { MailPod } from "../pod";
import { hostLinkOf } from "../pod/network";
import type { Client } from "./guess";

/** Adds the clients to the pod; the returned function undoes all three. */
export function addClients(pod: MailPod, clients: Client[]): () => void {
  const link = hostLinkOf(pod.netns);
  const hostsFile = pod.hostPath("/etc/hosts");
  const hosts = fs.readFileSync(hostsFile, "utf8");
  const added: string[] = [];
  const records = clients.map((c) => ({ name: c.name, type: "A" as const, content: c.address }));
  const undo = () => {
    for (const a of added) spawnSync("ip", ["addr", "del", `${a}/32`, "dev", link]);
    added.length = 0;
    fs.writeFileSync(hostsFile, hosts);
    for (const r of records) {
      const i = pod.records.indexOf(r);
      if (i >= 0) pod.records.splice(i, 1);
    }
  };
  try {
    for (const c of clients) {
      const r = spawnSync("ip", ["addr", "add", `${c.address}/32`, "dev", link], {
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`ip addr add ${c.address} dev ${link}: ${r.stderr}`);
      added.push(c.address);
    }
    fs.writeFileSync(hostsFile, hosts + clients.map((c) => `${c.address} ${c.name}\n`).join(""));
    pod.records.push(...records);
  } catch (err) {
    undo();
    throw err;
  }
  return undo;
}
