/**
 * The mail stack's own TLS certificate: a Let's Encrypt certificate for the mail host names, issued
 * over ACME DNS-01 in the Cloudflare zone this program already manages, and written into a
 * `kubernetes.io/tls` Secret that the mail server and the webmail Ingress mount by name.
 *
 * Renewal: `acme.Certificate` renews during any `pulumi up` once fewer than `minDaysRemaining` days
 * are left (@pulumiverse/acme 0.16.2, `minDaysRemaining`); the scheduled Pulumi Deployment in
 * deploy/ runs that update daily, so nobody has to.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import * as acme from "@pulumiverse/acme";

export interface TlsCertificateArgs {
  namespace: pulumi.Input<string>;
  /** Name of the `kubernetes.io/tls` Secret this component owns. */
  secretName: string;
  /** DNS names on the certificate; the first is the common name. */
  hostnames: string[];
  /** ACME directory, e.g. Let's Encrypt production. */
  acmeServerUrl: string;
  /** Contact of the ACME account (expiry and policy mail from the CA). */
  acmeEmail: string;
  /** Renew when fewer days than this remain. */
  minDaysRemaining: number;
  /** Cloudflare token for the DNS-01 solver (lego's `CF_DNS_API_TOKEN`); a secret. */
  cloudflareDnsToken: pulumi.Output<string>;
}

/** lego's Cloudflare DNS provider reads the token under this name (go-acme/lego docs, cloudflare). */
export const LEGO_CLOUDFLARE_TOKEN = "CF_DNS_API_TOKEN";

export class TlsCertificate extends pulumi.ComponentResource {
  /** Name of the owned Secret: what every TLS consumer mounts. */
  public readonly secretName: pulumi.Output<string>;
  /** RFC 3339 expiry of the current certificate. */
  public readonly notAfter: pulumi.Output<string>;
  public readonly hostnames: string[];

  constructor(name: string, args: TlsCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mailserver:tls:TlsCertificate", name, {}, opts);
    const hostnames = [...new Set(args.hostnames)];
    if (hostnames.length === 0) {
      throw new Error(`TlsCertificate "${name}": hostnames is empty: expected at least one name`);
    }

    const provider = new acme.Provider(
      `${name}-acme`,
      { serverUrl: args.acmeServerUrl },
      { parent: this },
    );
    // The account key lives only in state (a secret output of tls.PrivateKey).
    const accountKey = new tls.PrivateKey(
      `${name}-account-key`,
      { algorithm: "ECDSA", ecdsaCurve: "P256" },
      { parent: this },
    );
    const registration = new acme.Registration(
      `${name}-account`,
      { accountKeyPem: accountKey.privateKeyPem, emailAddress: args.acmeEmail },
      { parent: this, provider },
    );
    const certificate = new acme.Certificate(
      `${name}-certificate`,
      {
        accountKeyPem: registration.accountKeyPem,
        commonName: hostnames[0],
        subjectAlternativeNames: hostnames.slice(1),
        keyType: "P256",
        minDaysRemaining: args.minDaysRemaining,
        dnsChallenges: [
          {
            provider: "cloudflare",
            config: { [LEGO_CLOUDFLARE_TOKEN]: pulumi.secret(args.cloudflareDnsToken) },
          },
        ],
      },
      { parent: this, provider },
    );

    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: {
          name: args.secretName,
          namespace: args.namespace,
          labels: { "app.kubernetes.io/managed-by": "pulumi" },
        },
        type: "kubernetes.io/tls",
        stringData: {
          // Leaf then issuer: Postfix, Dovecot and Traefik all serve the file as the chain.
          "tls.crt": pulumi.interpolate`${certificate.certificatePem}${certificate.issuerPem}`,
          "tls.key": pulumi.secret(certificate.privateKeyPem),
        },
      },
      { parent: this },
    );

    this.secretName = secret.metadata.name;
    this.notAfter = certificate.certificateNotAfter;
    this.hostnames = hostnames;
    this.registerOutputs({
      secretName: this.secretName,
      notAfter: this.notAfter,
      hostnames: this.hostnames,
    });
  }
}
