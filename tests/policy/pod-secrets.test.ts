/**
 * policy/lib/pod-secrets.ts on its own: the Secrets a pod spec names, route by route as
 * VisitPodSecretNames (kubernetes pkg/api/v1/pod/util.go) lists them, and what it cannot read.
 * The expected lists are written out here.
 */
import * as assert from "node:assert/strict";
import { ingressSecretUses, missingEffect, podSecretUses } from "../../policy/lib/pod-secrets";
import { PreviewGaps, Unknown, type Plain } from "../../policy/lib/plain";

const unknown = () => new Unknown(new Error("unknown during preview"));

/** One pod spec naming a different Secret on every route Kubernetes visits. */
const EVERY_ROUTE: Plain = {
  imagePullSecrets: [{ name: "s-pull" }, { name: "" }],
  initContainers: [{ name: "init", envFrom: [{ secretRef: { name: "s-init-envfrom" } }] }],
  containers: [
    {
      name: "app",
      envFrom: [
        { configMapRef: { name: "cm" } },
        { secretRef: { name: "s-envfrom", optional: true } },
      ],
      env: [
        { name: "PLAIN", value: "x" },
        { name: "FROM_CM", valueFrom: { configMapKeyRef: { name: "cm", key: "k" } } },
        { name: "PW", valueFrom: { secretKeyRef: { name: "s-env", key: "pw" } } },
      ],
    },
  ],
  ephemeralContainers: [
    { name: "debug", env: [{ name: "T", valueFrom: { secretKeyRef: { name: "s-ephemeral" } } }] },
  ],
  volumes: [
    { name: "data", persistentVolumeClaim: { claimName: "pvc" } },
    { name: "tls", secret: { secretName: "s-volume" } },
    {
      name: "proj",
      projected: {
        sources: [
          { configMap: { name: "cm" } },
          { secret: { name: "s-projected", optional: true } },
        ],
      },
    },
    { name: "az", azureFile: { secretName: "s-azure", shareName: "x" } },
    { name: "ceph", cephfs: { monitors: ["m"], secretRef: { name: "s-cephfs" } } },
    { name: "cinder", cinder: { volumeID: "v", secretRef: { name: "s-cinder" } } },
    { name: "flex", flexVolume: { driver: "d", secretRef: { name: "s-flex" } } },
    { name: "rbd", rbd: { image: "i", monitors: ["m"], secretRef: { name: "s-rbd" } } },
    { name: "sio", scaleIO: { gateway: "g", system: "s", secretRef: { name: "s-scaleio" } } },
    {
      name: "iscsi",
      iscsi: { targetPortal: "t", iqn: "q", lun: 0, secretRef: { name: "s-iscsi" } },
    },
    { name: "sos", storageos: { volumeName: "v", secretRef: { name: "s-storageos" } } },
    { name: "csi", csi: { driver: "d", nodePublishSecretRef: { name: "s-csi" } } },
  ],
};

describe("pod-secrets: the Secrets a pod spec uses, as Kubernetes lists them", () => {
  it("visits every route of VisitPodSecretNames, in its order, skipping empty names", () => {
    const gaps = new PreviewGaps();
    const found = podSecretUses(EVERY_ROUTE, gaps, "w");
    assert.deepEqual(
      found.uses.map((u) => [u.name, u.route, u.optional, u.where]),
      [
        ["s-pull", "imagePullSecrets", false, "imagePullSecrets[0]"],
        ["s-init-envfrom", "container", false, "container init (initContainers[0]) envFrom[0]"],
        ["s-envfrom", "container", true, "container app (containers[0]) envFrom[1]"],
        ["s-env", "container", false, "container app (containers[0]) env PW"],
        ["s-ephemeral", "container", false, "container debug (ephemeralContainers[0]) env T"],
        ["s-volume", "volume", false, "volume tls"],
        ["s-projected", "volume", true, "volume proj (projected source 1)"],
        ["s-azure", "volume", false, "volume az (azureFile.secretName)"],
        ["s-cephfs", "volume", false, "volume ceph (cephfs.secretRef.name)"],
        ["s-cinder", "volume", false, "volume cinder (cinder.secretRef.name)"],
        ["s-flex", "volume", false, "volume flex (flexVolume.secretRef.name)"],
        ["s-rbd", "volume", false, "volume rbd (rbd.secretRef.name)"],
        ["s-scaleio", "volume", false, "volume sio (scaleIO.secretRef.name)"],
        ["s-iscsi", "volume", false, "volume iscsi (iscsi.secretRef.name)"],
        ["s-storageos", "volume", false, "volume sos (storageos.secretRef.name)"],
        ["s-csi", "volume", false, "volume csi (csi.nodePublishSecretRef.name)"],
      ],
    );
    assert.deepEqual(found.unreadable, []);
    assert.equal(gaps.pending, false);
  });

  it("notes an unknown list, entry or name instead of reading it as no Secret", () => {
    for (const spec of [
      { containers: [{ name: "a", env: unknown() }] },
      { containers: [unknown()] },
      { containers: [{ name: "a", envFrom: [{ secretRef: unknown() }] }] },
      {
        containers: [
          { name: "a", env: [{ name: "X", valueFrom: { secretKeyRef: { name: unknown() } } }] },
        ],
      },
      { volumes: unknown() },
      { volumes: [{ name: "p", projected: { sources: unknown() } }] },
      { volumes: [{ name: "c", csi: { driver: "d", nodePublishSecretRef: { name: unknown() } } }] },
      { imagePullSecrets: [unknown()] },
      unknown(),
    ] as Plain[]) {
      const gaps = new PreviewGaps();
      const found = podSecretUses(spec, gaps, "w");
      assert.deepEqual(found.uses, [], JSON.stringify(spec));
      assert.equal(gaps.pending, true, JSON.stringify(spec));
      assert.throws(() => gaps.settle(), /^Error: w\b.*: unknown during preview$/);
    }
  });

  it("returns a name or list it cannot read as unreadable", () => {
    const gaps = new PreviewGaps();
    const found = podSecretUses(
      {
        imagePullSecrets: { name: "not-a-list" },
        containers: [
          { name: "a", env: [{ name: "N", valueFrom: { secretKeyRef: { name: 42 } } }] },
          { name: "b", envFrom: [{ secretRef: "not-an-object" }] },
        ],
        volumes: [{ name: "v", secret: { secretName: ["x"] } }, "not-a-volume"],
      },
      gaps,
      "w",
    );
    assert.deepEqual(found.uses, []);
    assert.deepEqual(found.unreadable, [
      "imagePullSecrets",
      "container a (containers[0]) env N",
      "container b (containers[1]) envFrom[0]",
      "volumes[1]",
      "volume v",
    ]);
    assert.equal(gaps.pending, false);
  });

  it("reads an Ingress's tls Secrets; an entry without secretName names none", () => {
    const gaps = new PreviewGaps();
    const found = ingressSecretUses(
      { spec: { tls: [{ hosts: ["a.example"] }, { hosts: ["b.example"], secretName: "b-tls" }] } },
      gaps,
      "ing",
    );
    assert.deepEqual(
      found.uses.map((u) => [u.name, u.route, u.where, u.hosts]),
      [["b-tls", "ingress", "spec.tls[1]", ["b.example"]]],
    );
    const pending = new PreviewGaps();
    assert.deepEqual(ingressSecretUses({ spec: { tls: unknown() } }, pending, "ing").uses, []);
    assert.equal(pending.pending, true);
  });

  it("says what a missing Secret does to the pod, by route and optional", () => {
    const use = (route: "imagePullSecrets" | "container" | "volume", optional: boolean) => ({
      name: "s",
      route,
      where: "",
      optional,
    });
    assert.equal(
      missingEffect([use("volume", true), use("container", false)]),
      "its pods never start",
    );
    assert.match(missingEffect([use("container", true)]), /^its pods start without/);
    assert.match(missingEffect([use("imagePullSecrets", false)]), /no pull credentials/);
  });
});
