/**
 * Roundcube webmail on MySQL, talking IMAPS and submission to the mail Service inside the cluster,
 * published by Traefik at the webmail host with TLS.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { adoptNothing, TYPES, withSizeIgnored, type Adopt } from "../lib/adopt";
import { literalEnv, secretEnv } from "../lib/env";
import { sha256Hex } from "../lib/hash";
import { COMPONENT_TYPE } from "../lib/component-types";

/** A PersistentVolumeClaim the webmail owns. */
export interface WebmailVolume {
  /** Claim name. */
  name: string;
  storageClass: string;
  size: string;
}

/** What Roundcube runs as: image, public host, database and volumes. */
export interface WebmailSettings {
  /** Roundcube image, pinned to a tag or digest. */
  image: string;
  /** Public host of the webmail (the Ingress rule and its TLS name). */
  host: string;
  ingressClassName: string;
  /** The MySQL database Roundcube keeps its state in; the password comes from Vault. */
  database: { host: string; port: number; name: string; user: string };
  /** Roundcube's web files. */
  htmlStorage: WebmailVolume;
  /** Users' PGP keys (the enigma plugin): protected. */
  enigmaStorage: WebmailVolume;
  resources: k8s.types.input.core.v1.ResourceRequirements;
  /** Roundcube plugins to enable (ROUNDCUBEMAIL_PLUGINS). */
  plugins: string[];
  /** Composer packages installed at pod start (ROUNDCUBEMAIL_COMPOSER_PLUGINS). */
  composerPlugins: string[];
  /** Traefik's router for the Ingress (see ingressAnnotations). */
  ingress: WebmailIngress;
}

/** The Traefik router settings of the webmail Ingress. */
export interface WebmailIngress {
  /** Middleware references in chain order, each `<namespace>-<name>@kubernetescrd`. */
  middlewares: string[];
  /** Traefik entry points the router listens on, e.g. websecure. */
  entrypoints: string[];
}

export interface WebmailArgs {
  namespace: pulumi.Input<string>;
  settings: WebmailSettings;
  /** Short name of the mail Service in the same namespace. */
  mailServiceName: pulumi.Input<string>;
  /** Name on the mail server's certificate, checked on the IMAP and SMTP connections. */
  mailTlsName: string;
  /** The stack's own `kubernetes.io/tls` Secret (MailServer.tlsSecretName) Traefik serves. */
  tlsSecretName: pulumi.Input<string>;
  dbPassword: pulumi.Output<string>;
  /** Import options for the two volumes at cutover (lib/adopt.ts). */
  adopt?: Adopt;
}

export const WEBMAIL_LABELS = { app: "roundcubemail" } as const;
/**
 * www-data in the Debian-based roundcube/roundcubemail apache image (uid and gid 33, Debian
 * base-passwd). As the pod's fsGroup it makes a fresh enigma volume, root-owned when the storage
 * class formats it, writable by Apache; the image only chowns its own directory, not a mount.
 */
export const WWW_DATA_GID = 33;
const HTTP_PORT = 80;

/**
 * The roundcube/roundcubemail apache image's entrypoint (roundcube/roundcubemail-docker @ ce5fe1f,
 * apache/docker-entrypoint.sh) does network-bound work before it starts Apache: with the html
 * volume already populated `bin/installto.sh` and `composer install` (lines 47-58), a wait of up
 * to 30 s for MySQL (`wait-for-it.sh -t 30`, line 100), then `composer require` of
 * ROUNDCUBEMAIL_COMPOSER_PLUGINS (lines 123-140). On a slow Packagist or GitHub day that passes
 * two minutes, and every container restart runs it again. The startup probe gives it
 * 10 s x 60 = 10 minutes before the kubelet restarts the container; "all other probes are
 * disabled if a startup probe is provided, until it succeeds" (kubernetes.io, Pod Lifecycle,
 * "Container probes"), so liveness and readiness only begin after it.
 */
export const ROUNDCUBE_PROBES = {
  startupProbe: { tcpSocket: { port: "http" }, periodSeconds: 10, failureThreshold: 60 },
  readinessProbe: { tcpSocket: { port: "http" }, periodSeconds: 10 },
  livenessProbe: { tcpSocket: { port: "http" }, periodSeconds: 30 },
} as const;

/**
 * Traefik's Kubernetes Ingress annotations for the router (doc.traefik.io,
 * routing-configuration/kubernetes/ingress, "On Ingress": comma-separated lists), in the order
 * the owner's ingress_factory writes them (ViktorBarzin/infra @ 0cd4afb6
 * modules/kubernetes/ingress_factory/main.tf:394-415).
 */
export function ingressAnnotations(ingress: WebmailIngress): Record<string, string> {
  return {
    "traefik.ingress.kubernetes.io/router.middlewares": ingress.middlewares.join(","),
    "traefik.ingress.kubernetes.io/router.entrypoints": ingress.entrypoints.join(","),
  };
}

/** Roundcube's entrypoint variables (roundcube-1.6 apache image); the password comes separately. */
export function roundcubeEnv(
  config: Pick<WebmailSettings, "database" | "plugins" | "composerPlugins">,
  mailServiceName: string,
): Record<string, string> {
  return {
    ROUNDCUBEMAIL_DEFAULT_HOST: `ssl://${mailServiceName}`,
    ROUNDCUBEMAIL_DEFAULT_PORT: "993",
    ROUNDCUBEMAIL_SMTP_SERVER: `tls://${mailServiceName}`,
    ROUNDCUBEMAIL_SMTP_PORT: "587",
    ROUNDCUBEMAIL_DB_TYPE: "mysql",
    ROUNDCUBEMAIL_DB_HOST: config.database.host,
    ROUNDCUBEMAIL_DB_PORT: String(config.database.port),
    ROUNDCUBEMAIL_DB_NAME: config.database.name,
    ROUNDCUBEMAIL_DB_USER: config.database.user,
    ROUNDCUBEMAIL_PLUGINS: config.plugins.join(","),
    ...(config.composerPlugins.length > 0
      ? { ROUNDCUBEMAIL_COMPOSER_PLUGINS: config.composerPlugins.join(",") }
      : {}),
  };
}

/**
 * The in-cluster name `mailserver` is not on the mail certificate (the cluster's `tls-secret`):
 * verify the certificate against the public mail host instead of switching verification off.
 */
export function tlsPeerConfig(mailTlsName: string): string {
  const options = `['ssl' => ['peer_name' => '${mailTlsName}', 'verify_peer' => true]]`;
  return [
    "<?php",
    `$config['imap_conn_options'] = ${options};`,
    `$config['smtp_conn_options'] = ${options};`,
    "",
  ].join("\n");
}

export class Webmail extends pulumi.ComponentResource {
  public static readonly TYPE = COMPONENT_TYPE.webmail;
  public readonly url: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  public readonly claimNames: pulumi.Output<string>[];

  constructor(name: string, args: WebmailArgs, opts?: pulumi.ComponentResourceOptions) {
    super(Webmail.TYPE, name, {}, opts);
    const config = args.settings;
    const labels = { ...WEBMAIL_LABELS };
    const meta = (name: string) => ({ name, namespace: args.namespace, labels });

    const dbSecret = new k8s.core.v1.Secret(
      `${name}-db`,
      {
        metadata: meta("roundcubemail-db"),
        type: "Opaque",
        stringData: { password: args.dbPassword },
      },
      { parent: this },
    );
    const phpData = { "tls-peer.inc.php": tlsPeerConfig(args.mailTlsName) };
    const phpConfig = new k8s.core.v1.ConfigMap(
      `${name}-config`,
      { metadata: meta("roundcubemail-config"), data: phpData },
      { parent: this },
    );
    // The env literals are part of the template already; the subPath-mounted config file and the
    // password read through secretKeyRef are not, and neither reaches a running pod by itself.
    // The checksum covers the password, so it stays a secret.
    const checksum = pulumi.secret(
      args.dbPassword.apply((password) => sha256Hex(JSON.stringify(phpData), password)),
    );
    const volumes: [string, WebmailVolume][] = [
      ["html", config.htmlStorage],
      ["enigma", config.enigmaStorage],
    ];
    const claims = volumes.map(
      ([role, storage]) =>
        new k8s.core.v1.PersistentVolumeClaim(
          `${name}-${role}`,
          {
            metadata: { ...meta(storage.name), annotations: { "pulumi.com/skipAwait": "true" } },
            spec: {
              accessModes: ["ReadWriteOnce"],
              storageClassName: storage.storageClass,
              resources: { requests: { storage: storage.size } },
            },
          },
          // The enigma volume holds users' PGP keys: never deleted by an update.
          {
            parent: this,
            protect: true,
            retainOnDelete: true,
            ...withSizeIgnored(
              (args.adopt ?? adoptNothing)(Webmail.TYPE, TYPES.pvc, `${name}-${role}`),
            ),
          },
        ),
    );
    const [html, enigma] = claims;

    // Plain settings as env literals; the password only as a secretKeyRef.
    const env = pulumi
      .output(args.mailServiceName)
      .apply((svc) => [
        ...literalEnv(roundcubeEnv(config, svc)),
        ...secretEnv(dbSecret.metadata.name, { ROUNDCUBEMAIL_DB_PASSWORD: "password" }),
      ]);
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: meta("roundcubemail"),
        spec: {
          replicas: 1,
          strategy: { type: "Recreate" },
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: { "checksum/config": checksum } },
            spec: {
              securityContext: {
                fsGroup: WWW_DATA_GID,
                // Change ownership only when the volume root does not match: the html volume
                // holds the whole installation and a recursive chown on every start is slow.
                fsGroupChangePolicy: "OnRootMismatch",
              },
              containers: [
                {
                  name: "roundcubemail",
                  image: config.image,
                  env,
                  ports: [{ name: "http", containerPort: HTTP_PORT, protocol: "TCP" }],
                  volumeMounts: [
                    { name: "html", mountPath: "/var/www/html" },
                    { name: "enigma", mountPath: "/var/roundcube/enigma" },
                    {
                      name: "config",
                      mountPath: "/var/roundcube/config/tls-peer.inc.php",
                      subPath: "tls-peer.inc.php",
                      readOnly: true,
                    },
                  ],
                  securityContext: { allowPrivilegeEscalation: false },
                  resources: config.resources,
                  ...ROUNDCUBE_PROBES,
                },
              ],
              volumes: [
                { name: "html", persistentVolumeClaim: { claimName: html.metadata.name } },
                { name: "enigma", persistentVolumeClaim: { claimName: enigma.metadata.name } },
                { name: "config", configMap: { name: phpConfig.metadata.name } },
              ],
            },
          },
        },
      },
      { parent: this },
    );

    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: meta("roundcubemail"),
        spec: {
          selector: labels,
          ports: [{ name: "http", port: HTTP_PORT, targetPort: "http", protocol: "TCP" }],
        },
      },
      { parent: this },
    );

    new k8s.networking.v1.Ingress(
      `${name}-ingress`,
      {
        metadata: {
          ...meta("roundcubemail"),
          // The provider waits for .status.loadBalancer.ingress (@pulumi/kubernetes
          // networking/v1/ingress.d.ts), which Traefik fills only when its publishedService is
          // on. The cluster's Traefik has it on today (infra stacks/traefik), but a Traefik
          // without it would fail every `pulumi up` after 10 minutes: the annotation
          // (pulumi/pulumi-kubernetes#417) skips that wait. The router annotations carry the
          // owner's gate (Authentik forward-auth, rate limit, ...) over from the live Ingress.
          annotations: { "pulumi.com/skipAwait": "true", ...ingressAnnotations(config.ingress) },
        },
        spec: {
          ingressClassName: config.ingressClassName,
          tls: [{ hosts: [config.host], secretName: args.tlsSecretName }],
          rules: [
            {
              host: config.host,
              http: {
                paths: [
                  {
                    path: "/",
                    pathType: "Prefix",
                    backend: { service: { name: service.metadata.name, port: { name: "http" } } },
                  },
                ],
              },
            },
          ],
        },
      },
      { parent: this },
    );

    this.url = pulumi.output(`https://${config.host}`);
    this.serviceName = service.metadata.name;
    this.claimNames = claims.map((c) => c.metadata.name);
    this.registerOutputs({ url: this.url, serviceName: this.serviceName });
  }
}
