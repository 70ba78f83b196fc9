/**
 * Serves the MTA-STS policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt` from a Cloudflare
 * Worker on the zone. A Worker Custom Domain makes Cloudflare create the host's DNS record and
 * edge certificate (developers.cloudflare.com/workers/configuration/routing/custom-domains), so
 * the policy stays reachable over valid HTTPS without the home cluster, its certificate or an
 * inbound port 443; senders fetch it only when the `_mta-sts` id changes.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import {
  MTA_STS_PATH,
  MTA_STS_POLICY_BINDING,
  MTA_STS_WORKER_MODULE,
  MTA_STS_WORKER_SOURCE,
} from "../lib/mta-sts-worker";
import { COMPONENT_TYPE } from "../lib/component-types";

export interface MtaStsSiteArgs {
  /** The zone apex; the zone and its account are looked up by this name. */
  domain: string;
  /** The exact policy file whose hash is the `_mta-sts` id (lib/dns-plan.ts#planMailDns). */
  policy: string;
}

/** Workers runtime semantics this script was written against (Cloudflare compatibility dates). */
const COMPATIBILITY_DATE = "2025-06-01";

export class MtaStsSite extends pulumi.ComponentResource {
  public static readonly TYPE = COMPONENT_TYPE.mtaSts;
  public readonly url: string;
  public readonly scriptName: pulumi.Output<string>;
  /** The resources that serve the policy: what the `_mta-sts` record must wait for. */
  public readonly servedBy: pulumi.Resource[];

  constructor(name: string, args: MtaStsSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MtaStsSite.TYPE, name, {}, opts);
    const host = `mta-sts.${args.domain}`;
    const zone = cloudflare.getZoneOutput({ filter: { name: args.domain } }, { parent: this });

    const script = new cloudflare.WorkersScript(
      `${name}-worker`,
      {
        accountId: zone.account.id,
        scriptName: host.replace(/\./g, "-"),
        mainModule: MTA_STS_WORKER_MODULE,
        content: MTA_STS_WORKER_SOURCE,
        compatibilityDate: COMPATIBILITY_DATE,
        bindings: [{ type: "plain_text", name: MTA_STS_POLICY_BINDING, text: args.policy }],
      },
      { parent: this },
    );
    const domain = new cloudflare.WorkersCustomDomain(
      `${name}-domain`,
      {
        accountId: zone.account.id,
        zoneId: zone.zoneId,
        hostname: host,
        service: script.scriptName,
      },
      { parent: this },
    );

    this.url = `https://${host}${MTA_STS_PATH}`;
    this.scriptName = script.scriptName;
    this.servedBy = [script, domain];
    this.registerOutputs({ url: this.url, scriptName: this.scriptName });
  }
}
