/**
 * What scenario 3 reads from the plan: the probe CronJob's script and env (its secretKeyRefs
 * resolved from the rendered Secret), the mail pod's template, the cluster DNS names that reach
 * the pod, and the rendered alert rules where the chart's server loads them.
 */
import { parse } from "yaml";
import type { CapturedResource, ProgramRun } from "../../offline/mock-program";
import { loads, RULES_CONFIGMAP, RULES_FILE } from "../../../lib/charts/prometheus";
import { filesOfMount, objectMounts, planned, type Container, type PodSpec } from "../mounts";
import type { ChartServer } from "../prometheus";

export const PROBE = { namespace: "mailserver", name: "email-roundtrip-monitor" };
export const MAIL = { namespace: "mailserver", deployment: "mailserver" };
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

type ProbeContainer = Omit<Container, "env"> & { command?: string[]; env?: EnvVar[] };

interface ProbePod extends PodSpec {
  containers: ProbeContainer[];
  securityContext?: { runAsUser?: number; runAsGroup?: number };
}

export interface RenderedProbe {
  env: Record<string, string>;
  /** Names of the variables that come from a Secret. */
  secretEnv: string[];
  script: string;
  /** The file's path under its mount (the ConfigMap key), its name in the work directory. */
  key: string;
  scriptFile: string;
  scriptMode: number;
  uid?: number;
  gid?: number;
}

function secretValue(secret: CapturedResource, key: string): string | undefined {
  const i = secret.inputs as { stringData?: Record<string, string>; data?: Record<string, string> };
  if (i.stringData?.[key] !== undefined) return String(i.stringData[key]);
  if (i.data?.[key] !== undefined) return Buffer.from(String(i.data[key]), "base64").toString();
  return undefined;
}

/** The container's env: literal values, and secretKeyRefs from the planned Secrets. */
function resolvedEnv(run: ProgramRun, c: ProbeContainer) {
  const env: Record<string, string> = {};
  const secretEnv: string[] = [];
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.secretKeyRef) {
      const ref = v.valueFrom.secretKeyRef;
      const secret = planned(run, "kubernetes:core/v1:Secret", PROBE.namespace, ref.name);
      const value = secretValue(secret, ref.key);
      if (value === undefined)
        throw new Error(`${v.name}: Secret ${ref.name} has no key ${ref.key}`);
      env[v.name] = value;
      secretEnv.push(v.name);
    } else throw new Error(`${v.name}: a valueFrom the rehearsal does not resolve`);
  }
  return { env, secretEnv };
}

/** The file the container's command runs (`python3 <path>`), as its ConfigMap volume mounts it. */
function mountedScript(run: ProgramRun, pod: ProbePod, c: ProbeContainer) {
  const scriptPath = c.command?.[1] ?? "";
  for (const { mount, volume } of objectMounts(pod, c)) {
    if (!volume.configMap || !scriptPath.startsWith(`${mount.mountPath}/`)) continue;
    const what = `ConfigMap ${PROBE.namespace}/${volume.configMap.name}`;
    const cm = planned(run, CONFIGMAP, PROBE.namespace, volume.configMap.name);
    const data = (cm.inputs.data ?? {}) as Record<string, string>;
    const file = filesOfMount(mount, volume, data, what).find((f) => f.mountPath === scriptPath);
    if (!file) continue;
    const key = scriptPath.slice(mount.mountPath.length + 1);
    return { file, key, scriptFile: `${what} key ${key} (${scriptPath})` };
  }
  throw new Error(`${scriptPath}: no ConfigMap key behind it`);
}

/** The CronJob's container, script and env with its secretKeyRefs resolved from the plan. */
export function renderedProbe(run: ProgramRun): RenderedProbe {
  const cron = planned(run, "kubernetes:batch/v1:CronJob", PROBE.namespace, PROBE.name);
  const spec = cron.inputs.spec as { jobTemplate: { spec: { template: { spec: ProbePod } } } };
  const pod = spec.jobTemplate.spec.template.spec;
  const c = pod.containers[0];
  const { file, key, scriptFile } = mountedScript(run, pod, c);
  return {
    ...resolvedEnv(run, c),
    script: file.content,
    key,
    scriptFile,
    scriptMode: file.mode,
    uid: pod.securityContext?.runAsUser,
    gid: pod.securityContext?.runAsGroup,
  };
}

export interface MailPodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: { name?: string; ports?: { name?: string; containerPort?: number }[] }[] };
}

export function mailTemplate(run: ProgramRun): MailPodTemplate {
  const d = planned(run, "kubernetes:apps/v1:Deployment", MAIL.namespace, MAIL.deployment);
  return (d.inputs as { spec: { template: MailPodTemplate } }).spec.template;
}

interface ServiceSpec {
  selector?: Record<string, string>;
  ports?: { port: number; targetPort?: number | string }[];
}

/**
 * The cluster DNS names under which the pod's `port` is what a client reaches: each planned
 * Service selecting the mail pod whose port `port` targets the container port `port`.
 */
export function clusterNames(run: ProgramRun, port: number) {
  const tpl = mailTemplate(run);
  const labels = tpl.metadata?.labels ?? {};
  const ports = (tpl.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const names: string[] = [];
  const services: string[] = [];
  for (const r of run.resources.filter((x) => x.type === "kubernetes:core/v1:Service")) {
    const m = r.inputs.metadata as { name: string; namespace?: string };
    const spec = r.inputs.spec as ServiceSpec;
    const sel = Object.entries(spec.selector ?? {});
    if (!sel.length || !sel.every(([k, v]) => labels[k] === v)) continue;
    const sp = spec.ports?.find((p) => p.port === port);
    const target =
      typeof sp?.targetPort === "string"
        ? ports.find((p) => p.name === sp.targetPort)?.containerPort
        : (sp?.targetPort ?? sp?.port);
    if (target !== port) continue;
    const ns = m.namespace ?? "default";
    names.push(`${m.name}.${ns}.svc.cluster.local`, `${m.name}.${ns}.svc`, `${m.name}.${ns}`);
    services.push(
      `${ns}/${m.name} port ${port} → ${String(sp?.targetPort)} = container port ${target}`,
    );
  }
  return { names, services };
}

export interface AlertRule {
  alert: string;
  expr: string;
}

export interface RenderedRules {
  text: string;
  /** Where the chart's server reads the file (its mount of the rules ConfigMap). */
  path: string;
  alerts: AlertRule[];
}

/** The rendered rule file and its path under the chart server's mount; throws unless it loads. */
export function renderedRules(run: ProgramRun, chart: ChartServer): RenderedRules {
  const cm = planned(run, CONFIGMAP, "monitoring", RULES_CONFIGMAP);
  const text = (cm.inputs.data as Record<string, string> | undefined)?.[RULES_FILE];
  if (text === undefined)
    throw new Error(`no planned ConfigMap ${RULES_CONFIGMAP} key ${RULES_FILE}`);
  const path = `${chart.rulesMounts[0] ?? "?"}/${RULES_FILE}`;
  if (!chart.rulesMounts.length || !loads(chart.ruleFiles, path)) {
    throw new Error(
      `the chart server does not load ${RULES_CONFIGMAP} (${JSON.stringify(chart.ruleFiles)})`,
    );
  }
  const doc = parse(text) as { groups?: { rules?: AlertRule[] }[] };
  return { text, path, alerts: doc.groups?.flatMap((g) => g.rules ?? []) ?? [] };
}
