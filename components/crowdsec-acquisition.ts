/**
 * What CrowdSec reads from the mail pod, and the proof that the agent reads it. The CrowdSec agent
 * (the crowdsec Helm chart's DaemonSet, LAPI, bouncers) belongs to the CrowdSec stack; this
 * component owns the acquisition ConfigMap and reads the agent's live state at preview.
 *
 * The seam, from the consumer's side:
 * - the agent's DaemonSet and its acquisition ConfigMaps are read with `.get()` and published as
 *   this component's `agent` output (mounts, volumes and pod placement only), which the policy
 *   pack checks: the acquisition must be mounted by subPath into /etc/crowdsec/acquis.d, nothing
 *   else may read the mail logs, every datasource polls, and an agent pod can run on every node
 *   the mail pod can;
 * - `agentValues` is the chart values (YAML) that make the agent do so, computed from what was read.
 *
 * The crux of the acquisition is the `program` label. Pod logs are read as CRI or docker lines; the
 * cri-logs / docker-logs parsers take the program from the datasource label and never look inside
 * the syslog line. The hub parsers filter on that program: postfix-logs wants one ending in
 * `/smtpd`, postscreen-logs wants `postfix/postscreen`, dovecot-logs wants `dovecot`. One
 * `program: postfix` label matches none of them, and brute force goes unnoticed without an error.
 * So the same log file is declared once per parser family; each parser ignores the other families'
 * lines.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { agentValues, agentValuesYaml, agentView, type LiveAgent } from "../lib/charts/crowdsec";
import { COMPONENT_TYPE } from "../lib/component-types";

export type ContainerRuntime = "containerd" | "docker";

/** The live CrowdSec agent (the crowdsec Helm chart's DaemonSet), read at preview. */
export interface CrowdSecAgentRef {
  /** The agent DaemonSet (`<release>-agent`). */
  daemonSet: string;
  /** Its CrowdSec container. */
  container: string;
  /** Every ConfigMap the agent loads acquisitions from. */
  acquisitionConfigMaps: string[];
}

export interface CrowdSecAcquisitionArgs {
  /** Namespace of the CrowdSec agent, where the ConfigMap must live to be mounted. */
  namespace: string;
  /** Namespace of the mail pod. */
  mailNamespace: string;
  /** Pods are named `<podPrefix>-<hash>-<hash>` (MailServer.podNamePrefix). */
  podPrefix: string;
  /** docker-mailserver's container in the pod (MailServer.containerName). */
  containerName: string;
  /** Node container runtime: selects the cri-logs or docker-logs parser (`labels.type`). */
  containerRuntime: ContainerRuntime;
  /** Hub collections the agent must install, e.g. crowdsecurity/postfix, crowdsecurity/dovecot. */
  collections: string[];
  /** The live agent to read at preview (its DaemonSet and acquisition ConfigMaps, in `namespace`). */
  agent: CrowdSecAgentRef;
}

/** One datasource per hub parser family, all over the same container log. */
export const PARSER_PROGRAMS = [
  {
    // Every postfix line is labelled as an smtpd line: postfix-logs (filter: program ending in
    // /smtpd) then parses all of them. DMS 15 refuses SASL on port 25, so auth failures come from
    // submission (587) and submissions (465); the label also covers submissions/smtpd, which the
    // older hub's explicit program list lacks.
    program: "postfix/submission/smtpd",
    parser: "crowdsecurity/postfix-logs",
  },
  { program: "postfix/postscreen", parser: "crowdsecurity/postscreen-logs" },
  { program: "dovecot", parser: "crowdsecurity/dovecot-logs" },
] as const;

export const ACQUISITION_CONFIGMAP = "crowdsec-mail-acquisition";
export const ACQUISITION_KEY = "acquis-mail.yaml";
export const COLLECTIONS_KEY = "collections";

/** Glob of the docker-mailserver container's log files on every node. */
export function containerLogGlob(args: CrowdSecAcquisitionArgs): string {
  return `/var/log/containers/${args.podPrefix}-*_${args.mailNamespace}_${args.containerName}-*.log`;
}

/** The datasources, as objects (the same shape the chart's `agent.additionalAcquisition` takes). */
export function acquisitionDatasources(args: CrowdSecAcquisitionArgs): Record<string, unknown>[] {
  return PARSER_PROGRAMS.map(({ program }) => ({
    source: "file",
    filenames: [containerLogGlob(args)],
    // Watch the glob even before the pod's log file exists (pods are replaced on every rollout).
    force_inotify: true,
    // Since CrowdSec 1.5 files are followed by inotify unless this is set (pkg/acquisition/modules/
    // file). /var/log/containers/*.log are symlinks to the pod's current log, and on a symlink
    // inotify "will not be able to detect rotation" (CrowdSec's own warning, v1.7.8 file/run.go):
    // after a restart or rotation the agent would stop reading. Polling follows the symlink.
    poll_without_inotify: true,
    labels: { type: args.containerRuntime, program },
  }));
}

/** `acquis-mail.yaml`: one YAML document per datasource. */
export function renderAcquisition(args: CrowdSecAcquisitionArgs): string {
  const datasources = acquisitionDatasources(args);
  return PARSER_PROGRAMS.map(
    ({ parser }, i) => `# for ${parser}\n${stringify(datasources[i], { lineWidth: 0 })}`,
  ).join("---\n");
}

/** Reads the live agent: its DaemonSet and the ConfigMaps it loads acquisitions from. */
function readAgent(
  name: string,
  args: CrowdSecAcquisitionArgs,
  parent: pulumi.Resource,
): pulumi.Output<LiveAgent> {
  const ns = args.namespace;
  const { daemonSet, container, acquisitionConfigMaps } = args.agent;
  const ds = k8s.apps.v1.DaemonSet.get(`${name}-agent`, `${ns}/${daemonSet}`, { parent });
  const maps = acquisitionConfigMaps.map((cm) =>
    k8s.core.v1.ConfigMap.get(`${name}-agent-${cm}`, `${ns}/${cm}`, { parent }).data.apply(
      (data) => ({ namespace: ns, name: cm, data: data ?? {} }),
    ),
  );
  return pulumi.all([ds.spec, pulumi.all(maps)]).apply(([spec, configMaps]) => ({
    daemonSet: agentView(ns, daemonSet, container, spec.template.spec),
    configMaps,
  }));
}

export class CrowdSecAcquisition extends pulumi.ComponentResource {
  public static readonly TYPE = COMPONENT_TYPE.crowdsec;
  public readonly configMapName: pulumi.Output<string>;
  public readonly collections: string[];
  /** The live agent as read at preview: what the policy pack checks the seam against. */
  public readonly agent: pulumi.Output<LiveAgent>;
  /** The crowdsec chart values (YAML) the CrowdSec stack needs so its agent reads this acquisition. */
  public readonly agentValues: pulumi.Output<string>;

  constructor(name: string, args: CrowdSecAcquisitionArgs, opts?: pulumi.ComponentResourceOptions) {
    super(CrowdSecAcquisition.TYPE, name, {}, opts);
    const acquisition = renderAcquisition(args);
    const configMap = new k8s.core.v1.ConfigMap(
      `${name}-acquisition`,
      {
        metadata: {
          name: ACQUISITION_CONFIGMAP,
          namespace: args.namespace,
          labels: { "app.kubernetes.io/part-of": "mailserver" },
        },
        data: {
          [ACQUISITION_KEY]: acquisition,
          [COLLECTIONS_KEY]: args.collections.join(" "),
        },
      },
      // Every CrowdSec agent pod mounts this file (by subPath, so `optional` would leave a
      // directory in its place): a destroy, a rename or a failed first `up` must not delete it,
      // or agents that restart stay in ContainerCreating. Removal order: docs/cutover.md, Rollback.
      { parent: this, protect: true, retainOnDelete: true },
    );
    this.configMapName = configMap.metadata.name;
    this.collections = args.collections;
    this.agent = readAgent(name, args, this);
    this.agentValues = this.agent.apply((live) =>
      agentValuesYaml(
        agentValues(live, {
          configMap: ACQUISITION_CONFIGMAP,
          key: ACQUISITION_KEY,
          mailNamespace: args.mailNamespace,
          mailPodPrefix: args.podPrefix,
          content: acquisition,
        }),
        live,
      ),
    );
    this.registerOutputs({
      configMapName: this.configMapName,
      collections: this.collections,
      agent: this.agent,
      agentValues: this.agentValues,
    });
  }
}
