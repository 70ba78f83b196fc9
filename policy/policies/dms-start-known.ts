/**
 * dms-start-known: docker-mailserver starts the way its image does, and the shell it runs in the
 * mail container is shell someone reviewed.
 *
 * Why: the other policies judge the env and the config files the stack mounts, which
 * docker-mailserver applies through its own start: the image's ENTRYPOINT `dumb-init --` and CMD
 * `supervisord -c /etc/supervisor/supervisord.conf` (docker-mailserver v15.0.0 Dockerfile:307-308),
 * under which start-mailserver.sh edits the daemons' config. A container `command` or `args`
 * replaces that start. Shell the container runs can undo any of it after it was judged:
 * user-patches.sh runs as root after every startup edit, before the daemons start
 * (setup-stack.sh:110-119), and an exec probe or lifecycle hook runs every period or at start. It
 * could start Fail2ban, rewrite Postfix or Rspamd config, or sign with another key. What shell
 * does is an open space, so the pack accepts only what is listed: user-patches.sh contents by
 * SHA-256, exec commands by their argv, each with a reason.
 *
 * Judged per docker-mailserver container of any workload kind: `command` and `args` (refused
 * unless absent, or `args` exactly the image's CMD with no `command`); the `exec.command` of
 * `lifecycle.postStart`/`preStop` and of the startup, readiness and liveness probes (in
 * `knownExecs`); the file at /tmp/docker-mailserver/user-patches.sh as the kubelet builds it from
 * the pod spec (lib/mounts.ts#fileAt), whose SHA-256 must be in `knownUserPatches`. A source the
 * pack cannot read (a volume of another kind, an object outside the stack) is "cannot verify".
 *
 * Fix: drop `command`/`args`; keep user-patches.sh and the probes as the program renders them
 * (components/mailserver.ts#userPatchesSh, #listeningCheck). After changing one, rehearse it
 * (`npm run rehearse`), review it, and list its digest or argv in this policy's config (the
 * schema default and policy/config.prod.json) with a reason.
 */
import { createHash } from "node:crypto";
import type {
  PolicyConfigSchema,
  ReportViolation,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { DMS_IMAGE_PROPERTY, readConfig } from "../lib/config";
import { hasKind, podSpecOf } from "../lib/k8s";
import { fileAt } from "../lib/mounts";
import { at, list, PreviewGaps, type Plain } from "../lib/plain";
import { dmsContainers, plainResources, type DmsContainer, type StackResource } from "../lib/stack";

/** docker-mailserver v15.0.0 Dockerfile:308 (../shared/reference/dms-15.0.0-startup.md). */
const IMAGE_CMD = ["supervisord", "-c", "/etc/supervisor/supervisord.conf"];
const USER_PATCHES = "/tmp/docker-mailserver/user-patches.sh";
const EXEC_FIELDS = [
  ["lifecycle", "postStart"],
  ["lifecycle", "preStop"],
  ["startupProbe"],
  ["readinessProbe"],
  ["livenessProbe"],
];

interface KnownUserPatches {
  sha256: string;
  reason: string;
}

interface KnownExec {
  command: string[];
  reason: string;
}

interface Config {
  dmsImage: string;
  knownUserPatches: KnownUserPatches[];
  knownExecs: KnownExec[];
}

const configSchema: PolicyConfigSchema = {
  properties: {
    ...DMS_IMAGE_PROPERTY,
    knownUserPatches: {
      type: "array",
      items: {
        type: "object",
        properties: { sha256: { type: "string" }, reason: { type: "string" } },
        required: ["sha256", "reason"],
      },
      default: [
        {
          sha256: "7a2b4efcad8c7d4911548f1415fcbca4d636b6265dfc1748cf3f8a92219ca7ab",
          reason:
            "components/mailserver.ts#userPatchesSh with the PROXY listeners (Pulumi.prod.yaml): Dovecot's stats listener and Postfix's PROXY services; rehearsed (scenarios 1-4)",
        },
      ],
      description:
        "user-patches.sh contents (SHA-256 of the UTF-8 text) reviewed to run in the mail container, each with a reason",
    },
    knownExecs: {
      type: "array",
      items: {
        type: "object",
        properties: {
          command: { type: "array", items: { type: "string" } },
          reason: { type: "string" },
        },
        required: ["command", "reason"],
      },
      default: [
        {
          command: ["/bin/sh", "-c", "ss --listening --tcp | grep -P 'LISTEN.+:smtp'"],
          reason: "components/mailserver.ts#listeningCheck: docker-mailserver's own health check",
        },
        {
          command: ["/bin/sh", "-c", "ss --listening --tcp | grep -P 'LISTEN.+:imaps'"],
          reason: "components/mailserver.ts#listeningCheck, for IMAPS",
        },
      ],
      description:
        "Exec commands (probes, lifecycle hooks) reviewed to run in the mail container, each with a reason",
    },
  },
};

const sameArgv = (a: Plain | undefined, b: readonly string[]) =>
  Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);

/** Why the container's command/args replace the image's start, or undefined. */
function startProblem(c: DmsContainer, gaps: PreviewGaps): string | undefined {
  const command = at(c.container.container, "command");
  const args = at(c.container.container, "args");
  if (gaps.check(command, c.workloadName) || gaps.check(args, c.workloadName)) return undefined;
  const set = (v: Plain | undefined) => v !== undefined && v !== null && list(v).length > 0;
  if (!set(command) && (!set(args) || sameArgv(args, IMAGE_CMD))) return undefined;
  const fields = [
    ...(set(command) ? [`command ${JSON.stringify(command)}`] : []),
    ...(set(args) ? [`args ${JSON.stringify(args)}`] : []),
  ];
  return `sets ${fields.join(" and ")}, replacing the image's start (ENTRYPOINT dumb-init --, CMD ${IMAGE_CMD.join(" ")}), through which docker-mailserver applies the env and config files the pack judges; remove them`;
}

/** Exec commands the container runs that `knownExecs` does not list. */
function unknownExecs(c: DmsContainer, cfg: Config, gaps: PreviewGaps): string[] {
  return EXEC_FIELDS.flatMap((field) => {
    const command = at(c.container.container, ...field, "exec", "command");
    if (command === undefined || gaps.check(command, c.workloadName)) return [];
    if (cfg.knownExecs.some((k) => sameArgv(command, k.command))) return [];
    return [`${field.join(".")}.exec.command ${JSON.stringify(command)}`];
  });
}

/** Why the container's user-patches.sh is not a reviewed one, or undefined. */
function userPatchesProblem(
  resources: readonly StackResource[],
  c: DmsContainer,
  cfg: Config,
  gaps: PreviewGaps,
): string | undefined {
  const podSpec = podSpecOf(c.workload.type, c.workload.props);
  const file = fileAt(resources, c.namespace, podSpec ?? null, c.container.container, USER_PATCHES);
  if (file.kind === "absent") return undefined;
  if (file.kind === "unknown") {
    gaps.note(file.value, c.workloadName);
    return undefined;
  }
  if (file.kind === "opaque") return `cannot verify ${USER_PATCHES}: ${file.why}`;
  if (gaps.check(file.content, c.workloadName)) return undefined;
  const digest = createHash("sha256").update(file.content, "utf8").digest("hex");
  if (cfg.knownUserPatches.some((k) => k.sha256 === digest)) return undefined;
  return `cannot verify ${USER_PATCHES} from ${file.origin} (sha256 ${digest}): it is not a script the pack knows, and docker-mailserver runs it as root after its startup edits (setup-stack.sh:110-119); render it with components/mailserver.ts#userPatchesSh, or review it and list its digest in dms-start-known.knownUserPatches with a reason`;
}

function validateStack(args: StackValidationArgs, report: ReportViolation): void {
  const cfg = readConfig<Config>(configSchema, args.getConfig());
  const gaps = new PreviewGaps();
  const resources = plainResources(args.resources, hasKind);
  for (const c of dmsContainers(resources, cfg.dmsImage, gaps)) {
    const who = `container ${c.container.name} of ${c.namespace}/${c.workloadName}`;
    const start = startProblem(c, gaps);
    if (start) report(`cannot verify: ${who} ${start}.`, c.workload.urn);
    const execs = unknownExecs(c, cfg, gaps);
    if (execs.length > 0) {
      report(
        `cannot verify: ${who} runs ${execs.join(", ")}, shell the pack does not know; use the program's listeningCheck, or review it and list the argv in dms-start-known.knownExecs with a reason.`,
        c.workload.urn,
      );
    }
    const patches = userPatchesProblem(resources, c, cfg, gaps);
    if (patches) report(`${who}: ${patches}.`, c.workload.urn);
  }
  gaps.settle();
}

export const dmsStartKnown: StackValidationPolicy = {
  name: "dms-start-known",
  description:
    "docker-mailserver starts as its image does and runs only reviewed shell (user-patches.sh, exec probes and hooks).",
  enforcementLevel: "mandatory",
  configSchema,
  validateStack,
};
