/**
 * Generative family of plain-text-public: the open spaces (ConfigMap keys, env literals, command
 * lines, Worker plain_text bindings) are an allowlist, so any text not listed is refused whatever
 * it looks like, and docker-mailserver's own credentials (its env table) never pass as plain
 * text. Legitimate: listed keys with other public content, docker-mailserver variables that are
 * not credentials, the same text in a Secret or a secret_text binding. A namespace outside the
 * stack's is refused: the pack does not know what reads it.
 */
import fc from "fast-check";
import { configMap, goodStack, mailEnv, mtaStsWorker, T } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "plain-text-public";
const NS = "mailserver";

// Any text at all: the allowlist does not look at it, so it must not matter what it looks like.
const text = fc.string({ minLength: 1, maxLength: 40 });
const keyName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,20}$/);
const stackNs = fc.constantFrom("mailserver", "crowdsec", "monitoring");
const credential = fc.constantFrom(
  "RELAY_PASSWORD",
  "LDAP_BIND_PW",
  "DOVECOT_DNPASS",
  "SASLAUTHD_LDAP_PASSWORD",
  "SRS_SECRET",
  "DOVECOT_PASS_X",
  "LDAP_QUERY_X",
);

const withEnvData = (extra: Record<string, unknown>) =>
  replace([configMap("mailserver-env", NS, mailEnv(extra))]);

function probeWith(edit: (c: Record<string, unknown>) => void) {
  const stack = goodStack();
  const cron = structuredClone(stack.find((r) => r.name === "email-roundtrip-monitor"));
  if (!cron) throw new Error("the good stack has no probe CronJob");
  const spec = cron.properties.spec as {
    jobTemplate: { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
  };
  const container = spec.jobTemplate.spec.template.spec.containers[0];
  if (container) edit(container);
  return replace([cron]);
}

/** The good stack's MTA-STS Worker with one more binding. */
function workerWith(binding: Record<string, unknown>) {
  const worker = mtaStsWorker();
  (worker.properties.bindings as unknown[]).push(binding);
  return replace([worker]);
}

const bad = variant(POLICY, "violation");
const good = variant(POLICY, "clean");

export const plainTextFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    fc
      .tuple(stackNs, keyName, keyName, text)
      .map(([ns, name, key, value]) =>
        bad(
          `unlisted ConfigMap key in ${ns}`,
          replace([configMap(`cm-${name}`, ns, { [key]: value })]),
        ),
      ),
    fc.tuple(keyName, text).map(([key, value]) =>
      bad(
        "extra key in a listed ConfigMap",
        replace([
          configMap("mailserver-prometheus-rules", "monitoring", {
            "mailserver.rules.yml": "groups: []\n",
            [`x${key}`]: value,
          }),
        ]),
      ),
    ),
    fc
      .tuple(credential, text)
      .map(([key, value]) =>
        bad(
          `docker-mailserver credential ${key} in the env ConfigMap`,
          withEnvData({ [key]: value }),
        ),
      ),
    fc.tuple(keyName, text).map(([key, value]) =>
      bad(
        "unlisted env literal of the probe",
        probeWith((c) => {
          c.env = [...(c.env as unknown[]), { name: `X_${key}`, value }];
        }),
      ),
    ),
    text.map((word) =>
      bad(
        "a command line the pack does not know",
        probeWith((c) => {
          c.args = [word];
        }),
      ),
    ),
    fc
      .tuple(keyName, text)
      .map(([name, value]) =>
        bad(
          "another plain_text Worker binding",
          workerWith({ type: "plain_text", name: `B_${name}`, text: value }),
        ),
      ),
    fc
      .constantFrom("default", "kube-system")
      .map((ns) =>
        bad(
          `a ConfigMap in ${ns}, outside the stack's namespaces`,
          replace([configMap("elsewhere", ns, { greeting: "hello" })]),
        ),
      ),
    fc
      .tuple(keyName, text)
      .map(([name, value]) =>
        bad("a json Worker binding", workerWith({ type: "json", name: `J_${name}`, json: value })),
      ),
  ),
  legit: fc.oneof(
    text.map((motd) =>
      good(
        "a listed key with any content",
        replace([configMap("webmail-motd", NS, { "motd.txt": motd })]),
      ),
    ),
    fc
      .tuple(
        fc.constantFrom("LOG_LEVEL", "POSTFIX_MESSAGE_SIZE_LIMIT", "TZ"),
        fc.constantFrom("debug", "10240000", "UTC"),
      )
      .map(([key, value]) =>
        good(`docker-mailserver variable ${key}`, withEnvData({ [key]: value })),
      ),
    fc.tuple(keyName, text).map(([key, value]) =>
      good(
        "a Secret holds any text",
        replace([
          {
            type: T.secret,
            name: "extra-secret",
            properties: {
              metadata: { name: "extra", namespace: NS },
              stringData: { [key]: value },
            },
          },
        ]),
      ),
    ),
    fc
      .tuple(keyName, text)
      .map(([name, value]) =>
        good(
          "a secret_text Worker binding",
          workerWith({ type: "secret_text", name: `S_${name}`, text: value }),
        ),
      ),
  ),
};
