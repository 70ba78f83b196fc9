/**
 * Generative families for the Secrets a pod or an Ingress uses, drawn from Kubernetes' own list:
 * VisitPodSecretNames (kubernetes/kubernetes pkg/api/v1/pod/util.go) visits imagePullSecrets, the
 * envFrom secretRefs and env secretKeyRefs of init, regular and ephemeral containers, secret
 * volumes, projected secret sources and the Secrets of the azureFile, cephfs, cinder, flexVolume,
 * rbd, scaleIO, iscsi, storageos and csi volume sources. Every such route to a Secret the stack
 * does not create and the cluster inventory does not hold is refused by tls-secret-owned and
 * mounted-secrets-present; the same route to a Secret of the stack or to the cluster's tls-secret
 * is clean. An Ingress of any of @pulumi/kubernetes' three Ingress tokens is judged the same way.
 */
import fc from "fast-check";
import { UNKNOWN, type AnalyzerResource } from "../../tools/analyzer/client";
import { clusterInventory, opaqueSecret, TLS_SECRET, tlsSecret, webmailIngress } from "./fixtures";
import { replace, variant, workload, WORKLOAD_TYPES, type Family } from "./generative";

type K8s = Record<string, unknown>;

const NS = "mailserver";
const D = "viktorbarzin.me";
const IMAGE = "docker.io/library/busybox:1.37.0";
/** The Secret the cluster keeps in the namespace (tls-secret-owned's clusterSecrets default). */
const CLUSTER_SECRET = "tls-secret";
/** Secrets neither the stack nor the fixture inventory has. */
const FOREIGN = fc.constantFrom("mail-relay-credentials", "letsencrypt-mail", "registry-pull");
const workloadType = fc.constantFrom(...WORKLOAD_TYPES);

const container = (name: string, edit: K8s = {}): K8s => ({ name, image: IMAGE, ...edit });
const secretEnv = (secret: string, optional?: boolean): K8s => ({
  env: [
    {
      name: "RELAY_PASSWORD",
      valueFrom: {
        secretKeyRef: { name: secret, key: "password", ...(optional ? { optional } : {}) },
      },
    },
  ],
});
const secretEnvFrom = (secret: string, optional?: boolean): K8s => ({
  envFrom: [{ secretRef: { name: secret, ...(optional ? { optional } : {}) } }],
});
/** A pod spec with one volume `source` mounted by its container. */
const withVolume = (source: K8s): K8s => ({
  containers: [container("check", { volumeMounts: [{ name: "creds", mountPath: "/mnt/creds" }] })],
  volumes: [{ name: "creds", ...source }],
});

/** Each route of VisitPodSecretNames, as the pod spec of a helper workload naming `secret`. */
const ROUTES: Record<string, (secret: string) => K8s> = {
  imagePullSecrets: (s) => ({ imagePullSecrets: [{ name: s }], containers: [container("check")] }),
  "env secretKeyRef": (s) => ({ containers: [container("check", secretEnv(s))] }),
  "env secretKeyRef optional": (s) => ({ containers: [container("check", secretEnv(s, true))] }),
  "envFrom secretRef": (s) => ({ containers: [container("check", secretEnvFrom(s))] }),
  "envFrom secretRef optional": (s) => ({
    containers: [container("check", secretEnvFrom(s, true))],
  }),
  "initContainer env secretKeyRef": (s) => ({
    initContainers: [container("init", secretEnv(s))],
    containers: [container("check")],
  }),
  "initContainer envFrom secretRef": (s) => ({
    initContainers: [container("init", secretEnvFrom(s))],
    containers: [container("check")],
  }),
  "ephemeralContainer env secretKeyRef": (s) => ({
    containers: [container("check")],
    ephemeralContainers: [container("debug", secretEnv(s))],
  }),
  "secret volume": (s) => withVolume({ secret: { secretName: s } }),
  "secret volume optional": (s) => withVolume({ secret: { secretName: s, optional: true } }),
  "projected secret": (s) =>
    withVolume({
      projected: {
        sources: [{ configMap: { name: "mailserver-config" } }, { secret: { name: s } }],
      },
    }),
  "projected secret optional": (s) =>
    withVolume({ projected: { sources: [{ secret: { name: s, optional: true } }] } }),
  "azureFile volume": (s) => withVolume({ azureFile: { secretName: s, shareName: "mail" } }),
  "cephfs volume": (s) =>
    withVolume({ cephfs: { monitors: ["10.0.20.30:6789"], secretRef: { name: s } } }),
  "cinder volume": (s) => withVolume({ cinder: { volumeID: "mail", secretRef: { name: s } } }),
  "flexVolume volume": (s) => withVolume({ flexVolume: { driver: "x/y", secretRef: { name: s } } }),
  "rbd volume": (s) =>
    withVolume({ rbd: { monitors: ["10.0.20.30:6789"], image: "mail", secretRef: { name: s } } }),
  "scaleIO volume": (s) =>
    withVolume({ scaleIO: { gateway: "https://sio", system: "sio", secretRef: { name: s } } }),
  "iscsi volume": (s) =>
    withVolume({
      iscsi: {
        targetPortal: "10.0.20.31:3260",
        iqn: "iqn.2026-01.me:mail",
        lun: 0,
        secretRef: { name: s },
      },
    }),
  "storageos volume": (s) =>
    withVolume({ storageos: { volumeName: "mail", secretRef: { name: s } } }),
  "csi volume": (s) =>
    withVolume({ csi: { driver: "secrets-store.csi.k8s.io", nodePublishSecretRef: { name: s } } }),
};
const route = fc.constantFrom(...Object.keys(ROUTES));

const helper = (kind: string, podSpec: K8s): AnalyzerResource =>
  workload(kind, "mail-secret-check", NS, podSpec);

/** A Secret of the stack fit for `how` (pull credentials for imagePullSecrets). */
function stackSecret(how: string, name: string): AnalyzerResource {
  const s = opaqueSecret(name, ["password"]);
  if (how === "imagePullSecrets") {
    s.properties.type = "kubernetes.io/dockerconfigjson";
    s.properties.stringData = { ".dockerconfigjson": "PLACEHOLDER-dockerconfigjson" };
  }
  return s;
}

const LEGACY_INGRESS = {
  "v1beta1 Ingress": "kubernetes:networking.k8s.io/v1beta1:Ingress",
  "extensions Ingress": "kubernetes:extensions/v1beta1:Ingress",
} as const;
const legacyIngress = fc.constantFrom(
  ...(Object.keys(LEGACY_INGRESS) as (keyof typeof LEGACY_INGRESS)[]),
);

/** The webmail Ingress under an older token, serving `secretName` (its own name: both coexist). */
function ingressAs(token: string, secretName: string | number): AnalyzerResource {
  const ing = webmailIngress();
  ing.type = token;
  ing.name = "webmail-legacy";
  (ing.properties.metadata as K8s).name = "webmail-legacy";
  (ing.properties.spec as { tls: K8s[] }).tls[0].secretName = secretName;
  return ing;
}

/** The fixture inventory with `secrets` added (the cluster's tls-secret stays). */
const inventoryWith = (...secrets: K8s[]) => clusterInventory((i) => i.secrets.push(...secrets));

/** A route to a Secret that exists: one of the stack, or the cluster's tls-secret. */
const legit = (policy: string): fc.Arbitrary<ReturnType<ReturnType<typeof variant>>> =>
  fc
    .tuple(
      fc.oneof(route, legacyIngress),
      workloadType,
      fc.boolean(),
      fc.constantFrom("mail-relay-credentials", "registry-pull"),
    )
    .map(([how, kind, ofStack, name]) => {
      const v = variant(policy, "clean");
      const secret = ofStack ? name : CLUSTER_SECRET;
      const owner = ofStack ? "of the stack" : "of the cluster";
      if (how in LEGACY_INGRESS) {
        const token = LEGACY_INGRESS[how as keyof typeof LEGACY_INGRESS];
        const add = [ingressAs(token, ofStack ? TLS_SECRET : CLUSTER_SECRET)];
        return v(`${how}: ${ofStack ? TLS_SECRET : CLUSTER_SECRET} ${owner}`, replace(add));
      }
      const add = [helper(kind, (ROUTES[how] ?? ROUTES.imagePullSecrets)(secret))];
      if (ofStack) add.push(stackSecret(how, secret));
      return v(`${how}: ${secret} ${owner} in a ${kind.split(":")[2]}`, replace(add));
    });

/** A reference both policies cannot read: a name that is no string, or unknown at preview. */
function unreadableRef(how: string, kind: string): AnalyzerResource {
  if (how === "preview env list") {
    return helper(kind, { containers: [container("check", { env: UNKNOWN.array })] });
  }
  if (how === "preview envFrom secretRef name") {
    return helper(kind, ROUTES["envFrom secretRef"](UNKNOWN.string));
  }
  return helper(kind, { containers: [container("check", secretEnv(42 as unknown as string))] });
}

const OWNED = "tls-secret-owned";
const secretRefsOwned: Family = {
  policy: OWNED,
  violating: fc
    .tuple(
      fc.oneof(
        route,
        fc.constantFrom(
          "held by the cluster but owned by no one",
          "v1beta1 Ingress of a foreign Secret",
          "extensions Ingress of a foreign Secret",
          "v1beta1 Ingress of an Opaque Secret of the stack",
          "extensions Ingress of an Opaque Secret of the stack",
          "env secretKeyRef name not a string",
          "preview env list",
          "preview envFrom secretRef name",
          "preview v1beta1 Ingress secretName",
        ),
      ),
      workloadType,
      FOREIGN,
    )
    .map(([how, kind, foreign]) => {
      const preview = how.startsWith("preview");
      const v = variant(OWNED, "violation", preview ? "advisory" : "mandatory");
      const add: AnalyzerResource[] = [];
      switch (how) {
        case "held by the cluster but owned by no one":
          add.push(
            helper(kind, ROUTES["env secretKeyRef"](foreign)),
            inventoryWith({ namespace: NS, name: foreign, present: true, type: "Opaque" }),
          );
          break;
        case "v1beta1 Ingress of a foreign Secret":
        case "extensions Ingress of a foreign Secret":
          add.push(
            ingressAs(
              LEGACY_INGRESS[how.startsWith("v1") ? "v1beta1 Ingress" : "extensions Ingress"],
              foreign,
            ),
          );
          break;
        case "v1beta1 Ingress of an Opaque Secret of the stack":
        case "extensions Ingress of an Opaque Secret of the stack":
          add.push(
            ingressAs(
              LEGACY_INGRESS[how.startsWith("v1") ? "v1beta1 Ingress" : "extensions Ingress"],
              foreign,
            ),
            tlsSecret(foreign, "Opaque"),
          );
          break;
        case "env secretKeyRef name not a string":
        case "preview env list":
        case "preview envFrom secretRef name":
          add.push(unreadableRef(how, kind));
          break;
        case "preview v1beta1 Ingress secretName":
          add.push(ingressAs(LEGACY_INGRESS["v1beta1 Ingress"], UNKNOWN.string));
          break;
        default:
          add.push(helper(kind, (ROUTES[how] ?? ROUTES.imagePullSecrets)(foreign)));
      }
      return v(`${how}: ${foreign} in a ${kind.split(":")[2]}`, replace(add));
    }),
  legit: legit(OWNED),
};

const PRESENT = "mounted-secrets-present";
const secretRefsPresent: Family = {
  policy: PRESENT,
  violating: fc
    .tuple(
      fc.oneof(
        route,
        fc.constantFrom(
          "v1beta1 Ingress of a Secret not read",
          "extensions Ingress of a Secret not read",
          "v1beta1 Ingress of a cluster Secret not covering its host",
          "extensions Ingress of a cluster Secret that is absent",
          "env secretKeyRef name not a string",
          "preview env list",
          "preview envFrom secretRef name",
        ),
      ),
      workloadType,
      FOREIGN,
      fc.boolean(),
    )
    .map(([how, kind, foreign, readAbsent]) => {
      const preview = how.startsWith("preview");
      const v = variant(PRESENT, "violation", preview ? "advisory" : "mandatory");
      const add: AnalyzerResource[] = [];
      const cert = (edit: K8s) =>
        clusterInventory((i) => {
          i.secrets = [{ ...i.secrets[0], ...edit }];
        });
      let detail = `${foreign} in a ${kind.split(":")[2]}`;
      switch (how) {
        case "v1beta1 Ingress of a Secret not read":
          add.push(ingressAs(LEGACY_INGRESS["v1beta1 Ingress"], foreign));
          break;
        case "extensions Ingress of a Secret not read":
          add.push(ingressAs(LEGACY_INGRESS["extensions Ingress"], foreign));
          break;
        case "v1beta1 Ingress of a cluster Secret not covering its host":
          add.push(
            ingressAs(LEGACY_INGRESS["v1beta1 Ingress"], CLUSTER_SECRET),
            cert({ dnsNames: [D] }),
          );
          detail = `${CLUSTER_SECRET} for ${D} only`;
          break;
        case "extensions Ingress of a cluster Secret that is absent":
          add.push(
            ingressAs(LEGACY_INGRESS["extensions Ingress"], CLUSTER_SECRET),
            clusterInventory((i) => {
              i.secrets = [{ namespace: NS, name: CLUSTER_SECRET, present: false }];
            }),
          );
          detail = CLUSTER_SECRET;
          break;
        case "env secretKeyRef name not a string":
        case "preview env list":
        case "preview envFrom secretRef name":
          add.push(unreadableRef(how, kind));
          break;
        default:
          // Not in the inventory ("cannot verify"), or read there as absent.
          add.push(helper(kind, (ROUTES[how] ?? ROUTES.imagePullSecrets)(foreign)));
          if (readAbsent) add.push(inventoryWith({ namespace: NS, name: foreign, present: false }));
          detail += readAbsent ? ", read as absent" : ", not read";
      }
      return v(`${how}: ${detail}`, replace(add));
    }),
  legit: legit(PRESENT),
};

export const SECRET_REF_FAMILIES: Family[] = [secretRefsOwned, secretRefsPresent];
