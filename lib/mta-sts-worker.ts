/**
 * The Cloudflare Worker (module syntax) that serves the MTA-STS policy. The policy is not in this
 * source: it arrives as the plain-text binding `MTA_STS_POLICY_BINDING`, so the bytes served are
 * exactly the binding's text, which is a resource input the policy pack checks against the
 * `_mta-sts` TXT id. RFC 8461 §3.3: senders GET the policy over HTTPS, expect 200 and `text/plain`,
 * and follow no redirects.
 */

/** Name of the plain_text binding that carries the policy file. */
export const MTA_STS_POLICY_BINDING = "MTA_STS_POLICY";

/** RFC 8461 §3.2: where senders fetch the policy, on host `mta-sts.<domain>`. */
export const MTA_STS_PATH = "/.well-known/mta-sts.txt";

/** Module name the script is uploaded as (WorkersScript `mainModule`). */
export const MTA_STS_WORKER_MODULE = "mta-sts.mjs";

export const MTA_STS_WORKER_SOURCE = `export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" || pathname !== "${MTA_STS_PATH}") {
      return new Response("not found\\n", { status: 404, headers: { "content-type": "text/plain" } });
    }
    return new Response(env.${MTA_STS_POLICY_BINDING}, {
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "max-age=300" },
    });
  },
};
`;
