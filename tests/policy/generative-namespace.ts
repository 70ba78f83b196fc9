/**
 * A second family of mail-data-protected, drawn from Kubernetes namespace deletion: deleting a
 * Namespace deletes every object in it, so Pulumi's `protect` on the claims does not keep mail
 * data when the Namespace itself can be deleted. Legitimate: the protected mail Namespace, and
 * other namespaces, which hold no mail data.
 */
import fc from "fast-check";
import { mailNamespace } from "./fixtures";
import { replace, variant, type Family } from "./generative";

const POLICY = "mail-data-protected";

export const namespaceFamily: Family = {
  policy: POLICY,
  violating: fc
    .constantFrom("mailserver", "mailserver-namespace")
    .map((resourceName) =>
      variant(POLICY, "violation")(
        `unprotected mail Namespace (resource ${resourceName})`,
        replace([{ ...mailNamespace(false), name: resourceName }], ["mailserver"]),
      ),
    ),
  legit: fc
    .constantFrom("webmail-tools", "scratch", "crowdsec-extra")
    .map((other) =>
      variant(POLICY, "clean")(
        `unprotected other Namespace ${other}`,
        replace([mailNamespace(false, other)]),
      ),
    ),
};
