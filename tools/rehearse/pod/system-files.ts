/**
 * The pod's own /etc files, which the image or the kubelet would give it: the vmail user DMS's
 * image adds, hosts and resolver pointing at the rehearsal's names and DNS, and the TLS key and
 * certificate (cert-manager's Secret in the cluster) where the env says.
 */
import * as fs from "node:fs";
import { startupFact } from "../dms-startup";
import { OUTSIDE_ADDRESS, OUTSIDE_NAME, POD_ADDRESS } from "./addresses";
import type { KeyPair } from "./tls";
import { hostPath, write } from "./work-dir";

export function systemFiles(root: string, env: Record<string, string>, tls: KeyPair): void {
  const at = (podPath: string) => hostPath(root, podPath);
  const vmail = startupFact("dms:vmail user").value as unknown as {
    user: string;
    uid: number;
    gid: number;
  };
  write(
    at("/etc/passwd"),
    `${fs.readFileSync("/etc/passwd", "utf8")}${vmail.user}:x:${vmail.uid}:${vmail.gid}::/home/${vmail.user}:/bin/bash\n`,
  );
  write(
    at("/etc/group"),
    `${fs.readFileSync("/etc/group", "utf8")}${vmail.user}:x:${vmail.gid}:\n`,
  );
  // reject_unknown_client_hostname: the outside client's address and name resolve both ways.
  write(
    at("/etc/hosts"),
    `127.0.0.1 localhost\n::1 localhost\n${POD_ADDRESS} ${env.HOSTNAME}\n${OUTSIDE_ADDRESS} ${OUTSIDE_NAME}\n`,
  );
  write(at("/etc/resolv.conf"), `nameserver ${OUTSIDE_ADDRESS}\noptions timeout:1 attempts:1\n`);
  write(at(env.SSL_KEY_PATH), tls.key, 0o600);
  write(at(env.SSL_CERT_PATH), tls.cert, 0o644);
}
