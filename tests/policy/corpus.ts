/**
 * Realistic misconfigurations of the mail stack, each applied to the good stack and expected to
 * be caught by the named policy (and by no other mandatory policy).
 */
import type { AnalyzerResource } from "../../tools/analyzer/client";
import { mergeValues, type Values } from "../../lib/charts/crowdsec";
import { OWNER_VALUES } from "../../tools/world/crowdsec-agent";
import {
  acquisitionDoc,
  agentValuesWithMail,
  configMap,
  crowdsecAcquisition,
  crowdsecAgent,
  dkimContent,
  dkimSecret,
  DKIM_MOUNTS,
  dkimSigningConf,
  DKIM_VOLUMES,
  dmsContainer,
  goodStack,
  GOOD_ACQUISITION,
  mailDeployment,
  mailNamespace,
  mailConfig,
  mailEnv,
  mailService,
  mtaStsDomain,
  mtaStsId,
  mtaStsPolicy,
  mtaStsWorker,
  observedServer,
  probeCronJob,
  pvc,
  rulesConfigMap,
  record,
  rsaPrivateKeyPem,
  T,
  txt,
  webmailIngress,
  withResource,
  clusterInventory,
  tlsSecret,
  sidecar,
} from "./fixtures";

export interface Misconfiguration {
  title: string;
  policy: string;
  /** Other policies that refuse the same stack by their own invariant. */
  also?: string[];
  message: RegExp;
  stack: () => AnalyzerResource[];
}

const D = "viktorbarzin.me";

/** The good agent's values with agent.<key> replaced (Helm replaces lists whole). */
const agentWith = (agent: Values) =>
  withResource(crowdsecAgent(mergeValues(agentValuesWithMail(), { agent })));
const goodAgent = agentValuesWithMail().agent as Record<string, Values[]>;

/** Looks like a Brevo SMTP key; generated, never a real one. */
export const FAKE_BREVO_KEY = `xsmtpsib-${"ab12".repeat(16)}-${"cd34".repeat(4)}`;

const env = (extra: Record<string, unknown>, drop: string[] = []) => {
  const data = mailEnv(extra);
  for (const k of drop) delete data[k];
  return withResource(configMap("mailserver-env", "mailserver", data));
};

/** The mail Deployment of the good stack with its tls volume naming another Secret. */
function mailMounting(secretName: string): AnalyzerResource {
  const d = mailDeployment();
  const spec = (d.properties as { spec: { template: { spec: { volumes: unknown[] } } } }).spec;
  spec.template.spec.volumes = [
    ...DKIM_VOLUMES,
    { name: "data", persistentVolumeClaim: { claimName: "mailserver-data-proxmox" } },
    { name: "tls", secret: { secretName } },
  ];
  return d;
}

/** The mail Deployment of the good stack with `placement` added to its pod spec. */
function mailWithPod(placement: Record<string, unknown>): AnalyzerResource {
  const d = mailDeployment();
  const spec = (d.properties as { spec: { template: { spec: object } } }).spec;
  spec.template.spec = { ...spec.template.spec, ...placement };
  return d;
}

/**
 * The good stack with `user` in it, in a cluster that has a `letsencrypt-mail` certificate for the
 * mail host: only tls-secret-owned can object (neither the stack nor `clusterSecrets` owns it).
 */
function withLetsencryptSecret(user: AnalyzerResource): AnalyzerResource[] {
  const inventory = clusterInventory((i) =>
    i.secrets.push({
      namespace: "mailserver",
      name: "letsencrypt-mail",
      present: true,
      type: "kubernetes.io/tls",
      dnsNames: ["mail.viktorbarzin.me"],
    }),
  );
  return withResource(user, withResource(inventory));
}

const PROM = "prometheus-reads-monitoring";
const operatorObject = (kind: string, spec: Record<string, unknown>): AnalyzerResource => ({
  type: `kubernetes:monitoring.coreos.com/v1:${kind}`,
  name: `mailserver-${kind.toLowerCase()}`,
  properties: {
    apiVersion: "monitoring.coreos.com/v1",
    kind,
    metadata: { name: `mailserver-${kind.toLowerCase()}`, namespace: "mailserver" },
    spec,
  },
});

export const CORPUS: Misconfiguration[] = [
  {
    title: "a PrometheusRule on a cluster that runs the prometheus chart",
    policy: PROM,
    also: ["closed-world"],
    message: /PrometheusRule .* reads no PrometheusRule; .*prometheusChartValues/,
    stack: () =>
      withResource(operatorObject("PrometheusRule", { groups: [{ name: "mail", rules: [] }] })),
  },
  {
    title: "a PodMonitor for the old exporter on a cluster that runs the prometheus chart",
    policy: PROM,
    also: ["closed-world"],
    message: /PodMonitor .* installs no monitoring\.coreos\.com CRDs .* prometheus\.io\/scrape/,
    stack: () =>
      withResource(
        operatorObject("PodMonitor", {
          selector: { matchLabels: { app: "mailserver" } },
          podMetricsEndpoints: [{ port: "metrics" }],
        }),
      ),
  },
  {
    title: "a rules ConfigMap with no record of a server that loads it",
    policy: PROM,
    message: /holds Prometheus rules .* carries no readable .*observed-prometheus-server record/,
    stack: () => withResource(rulesConfigMap(null)),
  },
  {
    title: "a rules ConfigMap the live server does not mount (chart values not applied)",
    policy: PROM,
    message:
      /monitoring\/prometheus-server does not mount it as a directory; .*server\.extraVolumes/,
    stack: () => withResource(rulesConfigMap(observedServer({ mounts: [], watched: [] }))),
  },
  {
    title: "a mounted rules ConfigMap that no rule_files entry lists",
    policy: PROM,
    message:
      /no rule_files entry of monitoring\/prometheus-server .* loads \/etc\/mailserver-rules\/mailserver\.rules\.yml/,
    stack: () =>
      withResource(
        rulesConfigMap(observedServer({ ruleFiles: ["/etc/config/alerting_rules.yml"] })),
      ),
  },
  {
    title: "a mounted, listed rules ConfigMap that no config-reloader watches",
    policy: PROM,
    message: /no config-reloader of monitoring\/prometheus-server watches it/,
    stack: () => withResource(rulesConfigMap(observedServer({ watched: [] }))),
  },
  {
    title: "a second rule file beside the checked one, under a name the server never mounts",
    policy: PROM,
    also: ["plain-text-public"],
    message:
      /was checked for ConfigMap mailserver-prometheus-rules, not monitoring\/mailserver-extra-rules/,
    stack: () => [...goodStack(), rulesConfigMap(observedServer(), "mailserver-extra-rules")],
  },
  {
    title: "the mail pod annotated to scrape the removed exporter's port 9166",
    policy: PROM,
    message: /asks Prometheus to scrape port 9166 .* which no container of the pod declares/,
    stack: () =>
      withResource(
        mailDeployment([dmsContainer()], {
          "prometheus.io/scrape": "true",
          "prometheus.io/port": "9166",
        }),
      ),
  },
  {
    title: 'ENABLE_FAIL2BAN "1" in the env ConfigMap',
    policy: "fail2ban-disabled",
    message: /sets ENABLE_FAIL2BAN to "1"; set it to "0"\. CrowdSec owns the ban policy/,
    stack: () => env({ ENABLE_FAIL2BAN: "1" }),
  },
  {
    title: "ENABLE_FAIL2BAN missing (left to the image default)",
    policy: "fail2ban-disabled",
    message: /does not set ENABLE_FAIL2BAN/,
    stack: () => env({}, ["ENABLE_FAIL2BAN"]),
  },
  {
    title: "container env overrides ENABLE_FAIL2BAN=1",
    policy: "fail2ban-disabled",
    message: /container docker-mailserver sets ENABLE_FAIL2BAN to "1"/,
    stack: () =>
      withResource(
        mailDeployment([dmsContainer({ env: [{ name: "ENABLE_FAIL2BAN", value: "1" }] })]),
      ),
  },
  {
    title: "SMTP Service with externalTrafficPolicy Cluster",
    policy: "mail-service-etp-local",
    message: /externalTrafficPolicy Cluster, which SNATs client IPs/,
    stack: () => withResource(mailService({ externalTrafficPolicy: "Cluster" })),
  },
  {
    title: "SMTP Service pinned to the shared IP 10.0.20.200",
    policy: "mail-service-etp-local",
    message: /asks MetalLB for 10\.0\.20\.200, but pfSense forwards port 25 to 10\.0\.20\.202/,
    stack: () => withResource(mailService({}, { "metallb.io/loadBalancerIPs": "10.0.20.200" })),
  },
  {
    title: "spec.loadBalancerIP next to the MetalLB annotation",
    policy: "mail-service-etp-local",
    message: /spec\.loadBalancerIP is set .* remove it/,
    stack: () => withResource(mailService({ loadBalancerIP: "10.0.20.202" })),
  },
  {
    title: "SPF still authorising Mailgun instead of Brevo",
    policy: "spf-includes-brevo",
    message: /lacks include:spf\.brevo\.com/,
    stack: () => withResource(txt("spf", D, "v=spf1 include:mailgun.org -all")),
  },
  {
    title: "a second SPF record at the apex",
    policy: "spf-includes-brevo",
    message: /2 v=spf1 TXT at viktorbarzin\.me records \(spf, spf-old\)/,
    stack: () =>
      withResource(txt("spf-old", "@", "v=spf1 include:spf.brevo.com include:mailgun.org ~all")),
  },
  {
    title: "SPF ending in +all",
    policy: "spf-valid",
    message: /ends with \+all, which authorises any sender/,
    stack: () => withResource(txt("spf", D, "v=spf1 include:spf.brevo.com +all")),
  },
  {
    title: "SPF over the 10-lookup limit",
    policy: "spf-valid",
    message: /needs 11 DNS lookups/,
    stack: () =>
      withResource(
        txt(
          "spf",
          D,
          `v=spf1 include:spf.brevo.com a mx ${Array.from({ length: 8 }, (_, i) => `include:s${i}.example.net`).join(" ")} ~all`,
        ),
      ),
  },
  {
    title: "mail A record proxied through Cloudflare",
    policy: "mail-dns-only",
    message: /A mail\.viktorbarzin\.me \(mail-a\) is proxied/,
    stack: () =>
      withResource(
        record("mail-a", { name: `mail.${D}`, type: "A", content: "176.12.22.76", proxied: true }),
      ),
  },
  {
    title: "mail AAAA proxied, declared with the deprecated cloudflare.Record and a relative name",
    policy: "mail-dns-only",
    message: /AAAA mail\.viktorbarzin\.me \(mail-aaaa\) is proxied/,
    stack: () =>
      withResource(
        record(
          "mail-aaaa",
          { name: "mail", type: "AAAA", content: "2001:470:6e:43d::2", proxied: true },
          T.legacyRecord,
        ),
        goodStack().filter((r) => r.name !== "mail-aaaa"),
      ),
  },
  {
    title: "DMARC left at p=none",
    policy: "dmarc-enforcing",
    message: /p=none does not enforce/,
    stack: () =>
      withResource(txt("dmarc", `_dmarc.${D}`, `v=DMARC1; p=none; rua=mailto:dmarc@${D}`)),
  },
  {
    title: "mail Deployment mounts a Secret neither the stack nor the cluster provides",
    policy: "tls-secret-owned",
    message:
      /Deployment mailserver\/mailserver uses Secret "letsencrypt-mail" \(volume tls\), which no resource of this stack creates and the cluster does not provide/,
    stack: () => withLetsencryptSecret(mailMounting("letsencrypt-mail")),
  },
  {
    title: "webmail Ingress serves a TLS Secret the stack does not create",
    policy: "tls-secret-owned",
    message: /Ingress mailserver\/roundcubemail uses Secret "letsencrypt-mail" \(spec\.tls\[0\]\)/,
    stack: () => withLetsencryptSecret(webmailIngress("letsencrypt-mail")),
  },
  {
    title: "the stack creates tls-secret, which Kyverno already keeps in the namespace",
    policy: "tls-secret-owned",
    message:
      /the stack creates Secret mailserver\/tls-secret, which the cluster already keeps there/,
    stack: () => withResource(tlsSecret("tls-secret")),
  },
  {
    title: "mail Service on 10.0.20.202 while kms/windows-kms still holds it (today's cluster)",
    policy: "mail-address-free",
    message: /asks MetalLB for 10\.0\.20\.202, but LoadBalancer Service kms\/windows-kms holds it/,
    stack: () =>
      withResource(
        clusterInventory((i) => {
          i.services[0] = { ...i.services[0], addresses: ["10.0.20.202"] };
        }),
      ),
  },
  {
    title: "a helper NodePort Service on 30125, which the PROXY Service already holds",
    policy: "mail-nodeports-free",
    message: /asks for NodePort 30125, but Service mailserver\/mailserver-proxy holds it/,
    stack: () =>
      withResource({
        type: T.service,
        name: "debug",
        properties: {
          metadata: { name: "debug", namespace: "mailserver" },
          spec: { type: "NodePort", ports: [{ port: 8080, targetPort: 8080, nodePort: 30125 }] },
        },
      }),
  },
  {
    title: "mail Deployment mounts the cluster's tls-secret, which the namespace does not have",
    policy: "mounted-secrets-present",
    message: /uses Secret mailserver\/tls-secret, which does not exist in the cluster/,
    stack: () =>
      withResource(
        mailMounting("tls-secret"),
        withResource(
          clusterInventory((i) => {
            i.secrets = [{ namespace: "mailserver", name: "tls-secret", present: false }];
          }),
        ),
      ),
  },
  {
    title: "_mta-sts TXT published but no Worker serves the policy",
    policy: "mta-sts-served",
    message:
      /publishes id=[0-9a-f]{20}, but nothing in this stack serves https:\/\/mta-sts\.viktorbarzin\.me\/\.well-known\/mta-sts\.txt/,
    stack: () =>
      goodStack().filter((r) => r.type !== T.workersScript && r.type !== T.workersCustomDomain),
  },
  {
    title: "mta-sts host routed to a different Worker",
    policy: "mta-sts-served",
    message: /nothing in this stack serves/,
    stack: () => withResource(mtaStsDomain("some-other-worker")),
  },
  {
    title: "_mta-sts id hand-written instead of derived from the served bytes",
    policy: "mta-sts-served",
    message: /publishes id=20260412a1b2c3, but the policy served .* hashes to id=[0-9a-f]{20}/,
    stack: () => withResource(txt("mta-sts", `_mta-sts.${D}`, "v=STSv1; id=20260412a1b2c3")),
  },
  {
    title: "served policy lists an mx that is not the MX host",
    policy: "mta-sts-served",
    message: /MX host mail\.viktorbarzin\.me is not covered by any mx line .*\(mx\.example\.net\)/,
    stack: () => {
      const policy = mtaStsPolicy(["mx.example.net"]);
      return withResource(
        txt("mta-sts", `_mta-sts.${D}`, `v=STSv1; id=${mtaStsId(policy)}`),
        withResource(mtaStsWorker(policy)),
      );
    },
  },
  {
    title: "the Worker's script edited to redirect to a page the pack has never seen",
    policy: "mta-sts-worker-known",
    message:
      /cannot verify: Worker script mta-sts-viktorbarzin-me \(sha256 [0-9a-f]{64}\) is not one the pack knows serves MTA_STS_POLICY at \/\.well-known\/mta-sts\.txt; review it and list its digest in mta-sts-worker-known\.knownScripts/,
    stack: () => {
      const worker = mtaStsWorker();
      worker.properties.content =
        'export default { fetch() { return Response.redirect("https://example.net/sts.txt", 301); } };\n';
      return withResource(worker);
    },
  },
  {
    title: "Rspamd switched to a new selector whose TXT was never published",
    policy: "dkim-signing-published",
    message:
      /signs viktorbarzin\.me with selector "mail2026" .*but the stack publishes no TXT at mail2026\._domainkey\.viktorbarzin\.me/,
    stack: () => withResource(mailConfig(dkimSigningConf("mail2026"))),
  },
  {
    title: "the DKIM Secret holds a newly generated key while the TXT keeps the old one",
    policy: "dkim-signing-published",
    message:
      /using Secret mailserver\/mailserver-dkim key dkim\.private\.txt \(an RSA key, .*\), but dkim-mail publishes an RSA key that is not its public key at mail\._domainkey/,
    stack: () => withResource(dkimSecret(rsaPrivateKeyPem(3072))),
  },
  {
    title: "MTA-STS id with punctuation",
    policy: "mta-sts-valid",
    message: /id=2026-04-12 must be 1-32 letters or digits/,
    stack: () => withResource(txt("mta-sts", "_mta-sts", "v=STSv1; id=2026-04-12")),
  },
  {
    title: "TLS-RPT reporting to a plain http: URL",
    policy: "tls-rpt-valid",
    message: /rua URI "http:\/\/reports\.example\.net" must be mailto: or https:/,
    stack: () =>
      withResource(txt("tls-rpt", `_smtp._tls.${D}`, "v=TLSRPTv1; rua=http://reports.example.net")),
  },
  {
    title: "1024-bit DKIM key at the Rspamd selector mail",
    policy: "dkim-key-strength",
    message: /mail\._domainkey\.viktorbarzin\.me is a 1024-bit RSA key, below 2048 bits/,
    // Published with the Secret of the same key: the signer and the record agree.
    stack: () =>
      withResource(
        dkimSecret(rsaPrivateKeyPem(1024)),
        withResource(txt("dkim-mail", `mail._domainkey.${D}`, dkimContent(1024))),
      ),
  },
  {
    title: "dovecot exporter on :latest",
    policy: "image-pinned",
    message: /container dovecot-exporter image ".*:latest" uses :latest/,
    stack: () =>
      withResource(
        mailDeployment([
          dmsContainer(),
          sidecar("dovecot-exporter", "docker.io/viktorbarzin/dovecot-exporter:latest"),
        ]),
      ),
  },
  {
    title: "NET_ADMIN added to docker-mailserver (upstream's Fail2ban example)",
    policy: "mail-no-net-caps",
    message: /adds NET_ADMIN; Fail2ban is off/,
    stack: () =>
      withResource(
        mailDeployment([
          dmsContainer({ securityContext: { capabilities: { add: ["NET_ADMIN"] } } }),
        ]),
      ),
  },
  {
    title: "a user-patches.sh that starts Fail2ban after the pack judged ENABLE_FAIL2BAN",
    policy: "dms-start-known",
    message:
      /cannot verify \/tmp\/docker-mailserver\/user-patches\.sh from ConfigMap mailserver\/mailserver-config key user-patches\.sh \(sha256 [0-9a-f]{64}\): it is not a script the pack knows/,
    stack: () =>
      withResource(
        configMap("mailserver-config", "mailserver", {
          "dkim_signing.conf": dkimSigningConf(),
          "user-patches.sh": "#!/bin/bash\nsupervisorctl start fail2ban\n",
        }),
        withResource(
          mailDeployment([
            dmsContainer({
              volumeMounts: [
                ...DKIM_MOUNTS,
                {
                  name: "config",
                  mountPath: "/tmp/docker-mailserver/user-patches.sh",
                  subPath: "user-patches.sh",
                },
              ],
            }),
          ]),
        ),
      ),
  },
  {
    title: "mail data PVC without protect",
    policy: "mail-data-protected",
    message: /PVC mailserver\/mailserver-data-proxmox holds mail data but is not protected/,
    stack: () => withResource(pvc("mailserver-data-proxmox", false)),
  },
  {
    title: "Brevo SMTP key pasted into the env ConfigMap",
    policy: "no-literal-secrets",
    also: ["plain-text-public"],
    message: /ConfigMap key RELAY_PASSWORD: the value looks like a Brevo SMTP key/,
    stack: () => env({ RELAY_USER: "a7e778001@smtp-brevo.com", RELAY_PASSWORD: FAKE_BREVO_KEY }),
  },
  {
    title: "ONE_DIR carried over from an old mailserver.env",
    policy: "dms-env-known",
    message:
      /ONE_DIR in ConfigMap mailserver\/mailserver-env is not read by docker-mailserver 15\.0\.0/,
    stack: () => env({ ONE_DIR: "1" }),
  },
  {
    title: "docker-mailserver upgraded to 15.1.0 with the 15.0.0 env table",
    policy: "dms-env-known",
    message: /no env table for docker-mailserver 15\.1\.0 .*holds the table of 15\.0\.0 only/,
    stack: () =>
      withResource(
        mailDeployment([dmsContainer({ image: "mailserver/docker-mailserver:15.1.0" })]),
      ),
  },
  {
    title: "docker-mailserver pinned by a bare digest",
    policy: "dms-env-known",
    message:
      /cannot verify: image .* names no version, so its env table is unknown; pin it as docker\.io\/mailserver\/docker-mailserver:<tag>@sha256:/,
    stack: () =>
      withResource(
        mailDeployment([
          dmsContainer({
            image: `docker.io/mailserver/docker-mailserver@sha256:${"e".repeat(64)}`,
          }),
        ]),
      ),
  },
  {
    title: "RELAY_PASSWORD__FILE (a 15.1 feature) on 15.0.0",
    policy: "dms-env-known",
    message: /RELAY_PASSWORD__FILE .* uses the __FILE suffix/,
    stack: () => env({ RELAY_PASSWORD__FILE: "/run/secrets/relay" }),
  },
  {
    title: "CrowdSec acquisition labelled program: postfix",
    policy: "crowdsec-covers-mail",
    message:
      /no CrowdSec acquisition .* to postfix-logs .*found labels type\/program: containerd\/postfix\b/,
    stack: () => withResource(crowdsecAcquisition([acquisitionDoc("postfix")])),
  },
  {
    title: "CrowdSec acquisition reading the wrong namespace's pod logs",
    policy: "crowdsec-covers-mail",
    message:
      /feeds \/var\/log\/containers\/mailserver-.*_mailserver_docker-mailserver-.* to dovecot-logs/,
    stack: () =>
      withResource(
        crowdsecAcquisition(
          ["postfix/smtpd", "dovecot"].map((p) =>
            acquisitionDoc(p, "containerd", [
              "/var/log/containers/mailserver-*_mail_docker-mailserver-*.log",
            ]),
          ),
        ),
      ),
  },
  {
    title:
      "CrowdSec agent as the CrowdSec stack runs it today: the mail acquisition is not mounted",
    policy: "crowdsec-agent-mounts-acquisition",
    message:
      /crowdsec-mail-acquisition key acquis-mail\.yaml is a CrowdSec acquisition that the agent DaemonSet crowdsec\/crowdsec-agent .*does not mount.*agent\.extraVolumeMounts \{name: mail-acquisition, mountPath: \/etc\/crowdsec\/acquis\.d\/acquis-mail\.yaml, subPath: acquis-mail\.yaml\}/,
    stack: () =>
      withResource(
        crowdsecAgent(mergeValues(OWNER_VALUES, { agent: { acquisition: goodAgent.acquisition } })),
      ),
  },
  {
    title: "acquisition ConfigMap mounted as the whole acquis.d directory",
    policy: "crowdsec-agent-mounts-acquisition",
    message:
      /mounts volume mail-acquisition over the whole directory \/etc\/crowdsec\/acquis\.d, which hides .*\/etc\/crowdsec\/acquis\.d\/syslog\.yaml/,
    stack: () =>
      agentWith({
        extraVolumeMounts: [
          ...goodAgent.extraVolumeMounts.filter((m) => m.name !== "mail-acquisition"),
          { name: "mail-acquisition", mountPath: "/etc/crowdsec/acquis.d", readOnly: true },
        ],
      }),
  },
  {
    title: "an acquisition and no CrowdSec agent read at preview",
    policy: "crowdsec-agent-mounts-acquisition",
    message: /the stack reads no CrowdSec agent, so nothing proves any agent mounts it/,
    stack: () => goodStack().filter((r) => r.type !== T.crowdsecComponent),
    also: ["crowdsec-agent-on-mail-node"],
  },
  {
    title: "mail pod moved to the control-plane node, whose taint the agent does not tolerate",
    policy: "crowdsec-agent-on-mail-node",
    message:
      /tolerates taints node-role\.kubernetes\.io\/control-plane=<any>:NoSchedule and the CrowdSec agent DaemonSet crowdsec\/crowdsec-agent .* does not/,
    stack: () =>
      withResource(
        mailWithPod({
          nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
          tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists" }],
        }),
      ),
  },
  {
    title: "agent limited to labelled workers, the mail pod not",
    policy: "crowdsec-agent-on-mail-node",
    message: /runs only on nodes with label role In \[edge\], which the mail pod's nodeSelector/,
    stack: () => agentWith({ nodeSelector: { role: "edge" } }),
  },
  {
    title: "chart acquisition still reads the mail pod (program: postfix, program: dovecot)",
    policy: "crowdsec-single-acquisition",
    message:
      /reads \/var\/log\/containers\/mailserver-.* a second time through \/etc\/crowdsec\/acquis\.yaml \(ConfigMap crowdsec\/acquis-configmap key acquis\.yaml: program: postfix, program: dovecot\).*halves the ban thresholds/,
    stack: () => agentWith({ acquisition: (OWNER_VALUES.agent as Values).acquisition }),
  },
  {
    title: "agent loads an acquisition ConfigMap the stack did not read",
    policy: "crowdsec-single-acquisition",
    message:
      /loads \/etc\/crowdsec\/acquis\.d\/extra\.yaml from ConfigMap crowdsec\/crowdsec-extra-acquisition key extra\.yaml, which this stack neither creates nor read/,
    stack: () =>
      agentWith({
        extraVolumes: [
          ...goodAgent.extraVolumes,
          { name: "extra", configMap: { name: "crowdsec-extra-acquisition" } },
        ],
        extraVolumeMounts: [
          ...goodAgent.extraVolumeMounts,
          { name: "extra", mountPath: "/etc/crowdsec/acquis.d/extra.yaml", subPath: "extra.yaml" },
        ],
      }),
  },
  {
    title: "mail pod logs also read as DMS's syslog file in the same acquisition",
    policy: "crowdsec-single-acquisition",
    message: /feeds the mail logs of .* to dovecot-logs through 2 datasources/,
    stack: () =>
      withResource(
        crowdsecAcquisition([
          ...GOOD_ACQUISITION,
          acquisitionDoc("", "syslog", ["/var/log/mail/mail.log"]),
        ]),
      ),
  },
  {
    title: "CrowdSec datasource following pod logs by inotify only",
    policy: "crowdsec-acquisition-polls",
    message:
      /datasource 3 \(.*program dovecot\) follows its files by inotify.*add poll_without_inotify: true/,
    stack: () =>
      withResource(
        crowdsecAcquisition([
          ...GOOD_ACQUISITION.slice(0, 2),
          acquisitionDoc("dovecot", "containerd", undefined, false),
        ]),
      ),
  },
  {
    title: "CrowdSec datasource with a misspelt key (poll_without_inotfy)",
    policy: "crowdsec-acquisition-loads",
    message: /datasource 3: key poll_without_inotfy is not a v1\.7\.8 file datasource field/,
    stack: () =>
      withResource(
        crowdsecAcquisition([
          ...GOOD_ACQUISITION.slice(0, 2),
          `${GOOD_ACQUISITION[2] ?? ""}\npoll_without_inotfy: true`,
        ]),
      ),
  },
  {
    title: "the mail env ConfigMap in a Helm release the pack never sees",
    policy: "closed-world",
    message:
      /cannot verify: kubernetes:helm\.sh\/v3:Release mail-env: it renders objects the pack never sees/,
    stack: () => [
      ...goodStack(),
      {
        type: "kubernetes:helm.sh/v3:Release",
        name: "mail-env",
        properties: { chart: "./mail-env", namespace: "mailserver" },
      },
    ],
  },
  {
    title: "the LDAP bind password as a plain env literal of the mail container",
    policy: "plain-text-public",
    // Also dead config: the stack provisions from FILE, which reads no LDAP_ variable.
    also: ["no-literal-secrets", "dms-env-known"],
    message: /env literal LDAP_BIND_PW is a docker-mailserver credential/,
    stack: () =>
      withResource(
        mailDeployment([dmsContainer({ env: [{ name: "LDAP_BIND_PW", value: "horse-staple" }] })]),
      ),
  },
  {
    title: "the mail Namespace unprotected (its deletion takes the claims with it)",
    policy: "mail-data-protected",
    message: /Namespace mailserver holds the mail data claims/,
    stack: () => withResource(mailNamespace(false)),
  },
  {
    title: "roundtrip probe every minute",
    policy: "probe-within-mailgun-quota",
    message: /sends 1440 messages\/day through Mailgun/,
    stack: () => withResource(probeCronJob("* * * * *")),
  },
  {
    title: "roundtrip probe every 10 minutes (the spec's prose)",
    policy: "probe-within-mailgun-quota",
    message: /sends 144 messages\/day .* over the budget of 80/,
    stack: () => withResource(probeCronJob("*/10 * * * *")),
  },
];
