import { PolicyPack, type Policies } from "@pulumi/policy";
import { judgingPatches } from "./lib/patches";
import { closedWorld } from "./policies/closed-world";
import { closedWorldWaivers } from "./policies/closed-world-waivers";
import { crowdsecAcquisitionLoads } from "./policies/crowdsec-acquisition-loads";
import { crowdsecAcquisitionPolls } from "./policies/crowdsec-acquisition-polls";
import { crowdsecAgentMountsAcquisition } from "./policies/crowdsec-agent-mounts-acquisition";
import { crowdsecAgentOnMailNode } from "./policies/crowdsec-agent-on-mail-node";
import { crowdsecCoversMail } from "./policies/crowdsec-covers-mail";
import { crowdsecSingleAcquisition } from "./policies/crowdsec-single-acquisition";
import { dkimKeyStrength } from "./policies/dkim-key-strength";
import { dkimLegacyKey } from "./policies/dkim-legacy-key";
import { dkimSigningPublished } from "./policies/dkim-signing-published";
import { dmarcEnforcing } from "./policies/dmarc-enforcing";
import { dmarcReportDestination } from "./policies/dmarc-report-destination";
import { dmsEnvKnown } from "./policies/dms-env-known";
import { dmsStartKnown } from "./policies/dms-start-known";
import { fail2banDisabled } from "./policies/fail2ban-disabled";
import { mailAddressFree } from "./policies/mail-address-free";
import { mailNodePortsFree } from "./policies/mail-nodeports-free";
import { mountedSecretsPresent } from "./policies/mounted-secrets-present";
import { imagePinned } from "./policies/image-pinned";
import { mailDataProtected } from "./policies/mail-data-protected";
import { mailDnsOnly } from "./policies/mail-dns-only";
import { mailNoNetCaps } from "./policies/mail-no-net-caps";
import { mailServiceEtpLocal } from "./policies/mail-service-etp-local";
import { mtaStsServed } from "./policies/mta-sts-served";
import { mtaStsValid } from "./policies/mta-sts-valid";
import { mtaStsWorkerKnown } from "./policies/mta-sts-worker-known";
import { noLiteralSecrets } from "./policies/no-literal-secrets";
import { plainTextPublic } from "./policies/plain-text-public";
import { probeWithinMailgunQuota } from "./policies/probe-within-mailgun-quota";
import { prometheusReadsMonitoring } from "./policies/prometheus-reads-monitoring";
import { spfIncludesBrevo } from "./policies/spf-includes-brevo";
import { spfUnresolved } from "./policies/spf-unresolved";
import { spfValid } from "./policies/spf-valid";
import { tlsRptValid } from "./policies/tls-rpt-valid";
import { tlsSecretOwned } from "./policies/tls-secret-owned";

/**
 * Policies that read DNS records only. A Kubernetes Patch never produces a record, so their
 * per-resource checks are not wrapped to judge merged Patches: the wrap makes a stack policy, and
 * @pulumi/policy deserialises every resource of the stack afresh for each one.
 */
const recordPolicies: Policies = [
  spfIncludesBrevo,
  spfValid,
  spfUnresolved,
  dmarcEnforcing,
  dmarcReportDestination,
  mtaStsValid,
  tlsRptValid,
  dkimKeyStrength,
  dkimLegacyKey,
  mailDnsOnly,
];

/** Policies that judge Kubernetes objects (and Workers), each also on the objects Patches produce. */
const objectPolicies: Policies = [
  fail2banDisabled,
  mailServiceEtpLocal,
  imagePinned,
  mailNoNetCaps,
  mailDataProtected,
  noLiteralSecrets,
  plainTextPublic,
  dmsEnvKnown,
  dmsStartKnown,
  crowdsecCoversMail,
  crowdsecAgentMountsAcquisition,
  crowdsecAgentOnMailNode,
  crowdsecSingleAcquisition,
  crowdsecAcquisitionPolls,
  crowdsecAcquisitionLoads,
  probeWithinMailgunQuota,
  tlsSecretOwned,
  mtaStsServed,
  mtaStsWorkerKnown,
  dkimSigningPublished,
  prometheusReadsMonitoring,
  mailAddressFree,
  mailNodePortsFree,
  mountedSecretsPresent,
  closedWorld,
  closedWorldWaivers,
];

// The only statement with effects: constructing the pack starts the Analyzer server.
new PolicyPack("mailserver-invariants", {
  description: "Invariants of the viktorbarzin.me mail stack",
  policies: [
    ...recordPolicies,
    ...objectPolicies.map((p) => ("validateResource" in p ? judgingPatches(p) : p)),
  ],
});
