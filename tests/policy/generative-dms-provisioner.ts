/**
 * A family of dms-env-known drawn from how docker-mailserver v15.0.0 provisions accounts
 * (start-mailserver.sh:58-74, a bash `case` on the exact string): FILE or unset (its default) reads
 * the accounts the stack renders; LDAP ignores them; OIDC and any other spelling stop the start.
 * Under FILE, a variable only the LDAP path reads (LDAP_*, SASLAUTHD_LDAP_*, the DOVECOT_ keys of
 * dovecot-ldap.conf.ext) does nothing, whichever route sets it: the env ConfigMap, the container's
 * env, an envFrom Secret, an envFrom prefix that spells the name. A value from a Secret is
 * opaque to the pack: "cannot verify". Clean: FILE spelled out or unset, and DOVECOT_/SASLAUTHD_
 * variables the FILE path reads.
 */
import fc from "fast-check";
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { configMap, dmsContainer, mailEnv } from "./fixtures";
import {
  mailPodSpec,
  mailWorkloadPod,
  secretResource,
  variant,
  WORKLOAD_TYPES,
  type Family,
} from "./generative";

const POLICY = "dms-env-known";
const NS = "mailserver";
const workloadType = fc.constantFrom(...WORKLOAD_TYPES);
const ENV_FROM = [{ configMapRef: { name: "mailserver-env" } }];

type Route = "env ConfigMap" | "container env" | "envFrom Secret" | "envFrom prefix";
const route = fc.constantFrom<Route>(
  "env ConfigMap",
  "container env",
  "envFrom Secret",
  "envFrom prefix",
);

/** The mail stack with `name=value` set through `how`. */
function withVar(type: string, how: Route, name: string, value: string): AnalyzerResource[] {
  const extra: AnalyzerResource[] = [];
  let env: Record<string, unknown> = mailEnv();
  let container = dmsContainer();
  if (how === "env ConfigMap") env = mailEnv({ [name]: value });
  else if (how === "container env") container = dmsContainer({ env: [{ name, value }] });
  else {
    const [prefix, key] = how === "envFrom prefix" ? splitName(name) : ["", name];
    container = dmsContainer({
      envFrom: [...ENV_FROM, { ...(prefix ? { prefix } : {}), secretRef: { name: "dms-extra" } }],
    });
    extra.push(secretResource("dms-extra", { [key]: value }));
  }
  const stack = mailWorkloadPod(type, mailPodSpec([container])).filter(
    (r) => !(r.name === "mailserver-env" && r.type.endsWith(":ConfigMap")),
  );
  return [...stack, configMap("mailserver-env", NS, env), ...extra];
}

/** "LDAP_SERVER_HOST" -> ["LDAP_", "SERVER_HOST"]: the prefix an envFrom entry prepends. */
function splitName(name: string): [string, string] {
  const i = name.indexOf("_");
  return [name.slice(0, i + 1), name.slice(i + 1)];
}

export const dmsProvisionerFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    fc
      .tuple(
        workloadType,
        fc.constantFrom("LDAP", "OIDC", "file", "FILE ", "ldap", ""),
        fc.constantFrom<Route>("env ConfigMap", "container env"),
      )
      .map(([type, value, how]) =>
        variant(POLICY, "violation")(
          `ACCOUNT_PROVISIONER=${JSON.stringify(value)} by ${how} in ${type}`,
          withVar(type, how, "ACCOUNT_PROVISIONER", value),
        ),
      ),
    fc
      .tuple(
        workloadType,
        fc.constantFrom(
          "LDAP_SERVER_HOST",
          "LDAP_BIND_PW",
          "SASLAUTHD_LDAP_SERVER",
          "DOVECOT_URIS",
          "DOVECOT_TLS",
          "DOVECOT_USER_FILTER",
        ),
        route,
      )
      .map(([type, name, how]) =>
        variant(POLICY, "violation")(
          `LDAP-only ${name} under FILE by ${how} in ${type}`,
          withVar(type, how, name, name === "DOVECOT_TLS" ? "yes" : "ldaps://ldap.example.net"),
        ),
      ),
    // A Secret's value is opaque to the pack (as ENABLE_FAIL2BAN's is): cannot verify.
    fc
      .tuple(workloadType, fc.constantFrom<Route>("envFrom Secret", "envFrom prefix"))
      .map(([type, how]) =>
        variant(POLICY, "violation")(
          `ACCOUNT_PROVISIONER=FILE by ${how} in ${type}`,
          withVar(type, how, "ACCOUNT_PROVISIONER", "FILE"),
        ),
      ),
    workloadType.map((type) =>
      variant(POLICY, "violation")(
        `ACCOUNT_PROVISIONER from a secretKeyRef in ${type}`,
        mailWorkloadPod(
          type,
          mailPodSpec([
            dmsContainer({
              env: [
                {
                  name: "ACCOUNT_PROVISIONER",
                  valueFrom: { secretKeyRef: { name: "dms-extra", key: "provisioner" } },
                },
              ],
            }),
          ]),
        ),
      ),
    ),
  ),
  legit: fc.oneof(
    fc
      .tuple(workloadType, fc.constantFrom<Route>("env ConfigMap", "container env"))
      .map(([type, how]) =>
        variant(POLICY, "clean")(
          `ACCOUNT_PROVISIONER=FILE by ${how} in ${type}`,
          withVar(type, how, "ACCOUNT_PROVISIONER", "FILE"),
        ),
      ),
    fc
      .tuple(
        workloadType,
        fc.constantFrom<[string, string]>(
          ["DOVECOT_MAILBOX_FORMAT", "maildir"],
          ["SASLAUTHD_MECHANISMS", "rimap"],
        ),
        fc.constantFrom<Route>("env ConfigMap", "container env"),
      )
      .map(([type, [name, value], how]) =>
        variant(POLICY, "clean")(
          `${name} (read under FILE) by ${how} in ${type}`,
          withVar(type, how, name, value),
        ),
      ),
  ),
};
