/**
 * DMS's accounts step in the pod: each valid line of the user's postfix-accounts.cf becomes the
 * userdb and vmailbox lines, a home directory and its sieve script, and vhost lists the domains
 * mail is accepted for (world fact "dms:accounts to userdb, vmailbox and vhost").
 */
import * as fs from "node:fs";
import { expand, startupFact, validLines } from "../dms-startup";
import { hostPath, write } from "./work-dir";

interface Accounts {
  from: string;
  lines: { file: string; line: string }[];
  home: string;
  sieve: { from: string; file: string };
  vhost: { file: string; domains_of: string[] };
}

const lines = (ls: string[]) => ls.map((l) => `${l}\n`).join("");

export function applyAccounts(
  root: string,
  env: Record<string, string>,
  user: Record<string, string>,
): void {
  const v = startupFact("dms:accounts to userdb, vmailbox and vhost").value as unknown as Accounts;
  const out = new Map<string, string[]>(v.lines.map((l) => [l.file, []]));
  for (const line of validLines(user[v.from] ?? "")) {
    const [LOGIN, PASS] = line.split("|");
    const [USER, DOMAIN] = LOGIN.split("@");
    const vars = { ...env, LOGIN, PASS, USER, DOMAIN };
    for (const l of v.lines) out.get(l.file)?.push(expand(l.line, vars));
    fs.mkdirSync(hostPath(root, expand(v.home, vars)), { recursive: true });
    const sieve = user[expand(v.sieve.from, vars)];
    if (sieve !== undefined) write(hostPath(root, expand(v.sieve.file, vars)), sieve);
  }
  for (const [file, ls] of out) write(hostPath(root, file), lines(ls));
  write(hostPath(root, v.vhost.file), lines(vhostDomains(v.vhost.domains_of, user)));
}

/** The domains of the accounts' and the aliases' keys (`user@domain` or `@domain`), sorted. */
function vhostDomains(files: string[], user: Record<string, string>): string[] {
  const domains = files.flatMap((f) =>
    validLines(user[f] ?? "")
      .map((l) => l.split(/[|\s]/)[0])
      .filter((a) => a.includes("@"))
      .map((a) => a.split("@")[1]),
  );
  return [...new Set(domains)].sort();
}
