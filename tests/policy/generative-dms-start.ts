/**
 * Generative family of dms-start-known, drawn from how a container starts and what the kubelet
 * runs in it: `command` replaces the image's ENTRYPOINT and `args` its CMD (Kubernetes, "Define a
 * Command and Arguments for a Container"), an exec probe or lifecycle hook runs its argv in the
 * container, and docker-mailserver runs whatever file is at
 * /tmp/docker-mailserver/user-patches.sh (setup-stack.sh:110-119), however the pod spec puts it
 * there: a subPath of a ConfigMap key, a directory mount of the ConfigMap, an `items` projection,
 * a volume the pack cannot read. Legitimate: the image's own start (no command, or args exactly
 * its CMD), the reviewed script and argvs, probes and hooks that run no shell.
 */
import fc from "fast-check";
import type { AnalyzerResource, PackConfig } from "../../tools/analyzer/client";
import { configMap, dmsContainer, DKIM_MOUNTS, DKIM_VOLUMES, mailConfig } from "./fixtures";
import { mailWorkloadPod, variant, WORKLOAD_TYPES, type Family } from "./generative";

const POLICY = "dms-start-known";
const bad = variant(POLICY, "violation");
const good = variant(POLICY, "clean");
const PATCHES = "/tmp/docker-mailserver/user-patches.sh";
/** A script listed in this family's pack config by its SHA-256 (sha256sum of these bytes). */
const REVIEWED =
  '#!/bin/bash\n# reviewed: prints one line\necho "user-patches: nothing to change"\n';
const REVIEWED_SHA256 = "0bca41fc2927720f189086d1445f1e9f30caf7819348decb53570f43a8f89c9c";
const LISTENING = ["/bin/sh", "-c", "ss --listening --tcp | grep -P 'LISTEN.+:smtp'"];

export const DMS_START_PACK_CONFIG: PackConfig = {
  "plain-text-public": "disabled",
  [POLICY]: {
    knownUserPatches: [{ sha256: REVIEWED_SHA256, reason: "the family's reviewed script" }],
  },
};

const workloadType = fc.constantFrom(...WORKLOAD_TYPES);
const script = fc.constantFrom(
  "#!/bin/bash\nsupervisorctl start fail2ban\n",
  "#!/bin/bash\npostconf -e smtpd_tls_security_level=none\n",
  `${REVIEWED}sed -i 's/^/#/' /etc/rspamd/local.d/dkim_signing.conf\n`,
  REVIEWED.replace("\n", "\r\n"),
);

/** The mail pod with the DMS container's `extra` fields and, optionally, user-patches.sh. */
function mailStack(
  type: string,
  extra: Record<string, unknown>,
  patches?: { text: string; how: "subPath" | "directory" | "items" | "emptyDir" | "elsewhere" },
): AnalyzerResource[] {
  const mounts: Record<string, unknown>[] = [...DKIM_MOUNTS];
  const volumes: Record<string, unknown>[] = [...DKIM_VOLUMES];
  const cm = patches
    ? { "dkim_signing.conf": dkimConfText(mailConfig()), "user-patches.sh": patches.text }
    : {};
  let extraObjects: AnalyzerResource[] = [];
  if (patches) {
    const name = patches.how === "elsewhere" ? "dms-patches" : "mailserver-config";
    if (patches.how === "subPath") {
      mounts.push({ name: "config", mountPath: PATCHES, subPath: "user-patches.sh" });
    } else if (patches.how === "directory") {
      mounts.push({ name: "patches", mountPath: "/tmp/docker-mailserver" });
      volumes.push({ name: "patches", configMap: { name } });
    } else if (patches.how === "items") {
      mounts.push({ name: "patches", mountPath: "/tmp/docker-mailserver" });
      volumes.push({
        name: "patches",
        configMap: { name, items: [{ key: "user-patches.sh", path: "user-patches.sh" }] },
      });
    } else {
      mounts.push({ name: "patches", mountPath: "/tmp/docker-mailserver" });
      volumes.push(
        patches.how === "emptyDir"
          ? { name: "patches", emptyDir: {} }
          : { name: "patches", configMap: { name } },
      );
    }
    extraObjects =
      patches.how === "elsewhere" ? [] : [configMap("mailserver-config", "mailserver", cm)];
  }
  const pod = {
    containers: [dmsContainer({ volumeMounts: mounts, ...extra })],
    volumes: [
      ...volumes,
      { name: "data", persistentVolumeClaim: { claimName: "mailserver-data-proxmox" } },
    ],
  };
  const stack = mailWorkloadPod(type, pod);
  return extraObjects.length
    ? [
        ...stack.filter((r) => !(r.name === "mailserver-config" && r.type.endsWith("ConfigMap"))),
        ...extraObjects,
      ]
    : stack;
}

/** The DKIM conf text of the fixture's mailserver-config ConfigMap. */
function dkimConfText(cm: AnalyzerResource): string {
  return String((cm.properties.data as Record<string, unknown>)["dkim_signing.conf"]);
}

export const dmsStartFamily: Family = {
  policy: POLICY,
  violating: fc.oneof(
    fc
      .tuple(
        workloadType,
        fc.constantFrom<[string, Record<string, unknown>]>(
          [
            "command",
            { command: ["/bin/sh", "-c", "exec supervisord -c /etc/supervisor/supervisord.conf"] },
          ],
          ["args", { args: ["supervisord", "-n"] }],
          [
            "command and the image's args",
            {
              command: ["dumb-init"],
              args: ["supervisord", "-c", "/etc/supervisor/supervisord.conf"],
            },
          ],
          [
            "readiness exec",
            { readinessProbe: { exec: { command: ["supervisorctl", "start", "fail2ban"] } } },
          ],
          [
            "postStart exec",
            { lifecycle: { postStart: { exec: { command: ["/bin/sh", "-c", "iptables -F"] } } } },
          ],
          [
            "liveness exec like the smtp check",
            { livenessProbe: { exec: { command: [...LISTENING, "; true"] } } },
          ],
        ),
      )
      .map(([type, [how, extra]]) => bad(`${how} in ${type}`, mailStack(type, extra))),
    fc
      .tuple(
        workloadType,
        script,
        fc.constantFrom<"subPath" | "directory" | "items">("subPath", "directory", "items"),
      )
      .map(([type, text, how]) =>
        bad(`unreviewed user-patches.sh by ${how} in ${type}`, mailStack(type, {}, { text, how })),
      ),
    fc
      .tuple(workloadType, fc.constantFrom<"emptyDir" | "elsewhere">("emptyDir", "elsewhere"))
      .map(([type, how]) =>
        bad(
          `user-patches.sh the pack cannot read (${how}) in ${type}`,
          mailStack(type, {}, { text: REVIEWED, how }),
        ),
      ),
  ),
  legit: fc.oneof(
    fc
      .tuple(
        workloadType,
        fc.constantFrom<[string, Record<string, unknown>]>(
          ["image start", {}],
          [
            "args exactly the image's CMD",
            { args: ["supervisord", "-c", "/etc/supervisor/supervisord.conf"] },
          ],
          ["the smtp listening check", { readinessProbe: { exec: { command: LISTENING } } }],
          [
            "tcp and http probes, an http hook",
            {
              readinessProbe: { tcpSocket: { port: 25 } },
              livenessProbe: { httpGet: { path: "/", port: 9900 } },
              lifecycle: { preStop: { httpGet: { path: "/", port: 9900 } } },
            },
          ],
        ),
      )
      .map(([type, [how, extra]]) => good(`${how} in ${type}`, mailStack(type, extra))),
    fc
      .tuple(
        workloadType,
        fc.constantFrom<"subPath" | "directory" | "items">("subPath", "directory", "items"),
      )
      .map(([type, how]) =>
        good(
          `reviewed user-patches.sh by ${how} in ${type}`,
          mailStack(type, {}, { text: REVIEWED, how }),
        ),
      ),
  ),
};
