/**
 * The pod's throwaway CA: a fresh key pair per pod (valid two days) that signs the pod's and the
 * relay stand-in's certificates, so clients verify TLS as they would in the cluster, against a CA
 * nothing else trusts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sh } from "./sh";
import { write } from "./work-dir";

export interface KeyPair {
  key: string;
  cert: string;
}

/** The CA's certificate and a leaf (serverAuth, SAN DNS:name) for each of `names`, made in `dir`. */
export function throwawayTls(dir: string, names: string[]): { ca: string; leaves: KeyPair[] } {
  fs.mkdirSync(dir, { recursive: true });
  const ca = { key: path.join(dir, "ca.key"), cert: path.join(dir, "ca.crt") };
  sh("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    "-subj", "/CN=rehearsal throwaway CA", "-keyout", ca.key, "-out", ca.cert,
  ]); // prettier-ignore
  return {
    ca: fs.readFileSync(ca.cert, "utf8"),
    leaves: names.map((name) => leaf(path.join(dir, name), name, ca)),
  };
}

function leaf(base: string, name: string, ca: { key: string; cert: string }): KeyPair {
  write(`${base}.ext`, `subjectAltName=DNS:${name}\nextendedKeyUsage=serverAuth\n`);
  sh("openssl", [
    "req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`,
    "-keyout", `${base}.key`, "-out", `${base}.csr`,
  ]); // prettier-ignore
  sh("openssl", [
    "x509", "-req", "-in", `${base}.csr`, "-CA", ca.cert, "-CAkey", ca.key,
    "-CAcreateserial", "-days", "2", "-extfile", `${base}.ext`, "-out", `${base}.crt`,
  ]); // prettier-ignore
  return {
    key: fs.readFileSync(`${base}.key`, "utf8"),
    cert: fs.readFileSync(`${base}.crt`, "utf8"),
  };
}
