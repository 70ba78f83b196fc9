/**
 * The program's CrowdSec acquisition (the rendered ConfigMap crowdsec-mail-acquisition, key
 * acquis-mail.yaml) as the replay reads it, and the files the kubelet would give CrowdSec: the
 * container's CRI log, linked under the name the kubelet gives it, so CrowdSec itself expands
 * the rendered glob with only the glob's directory moved.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import type { ProgramRun } from "../../offline/mock-program";
import { deploymentPod } from "../mounts";

const ACQUISITION_CONFIGMAP = "crowdsec-mail-acquisition";
const ACQUISITION_KEY = "acquis-mail.yaml";
const COLLECTIONS_KEY = "collections";
/** Where the kubelet links container logs; the rendered globs must start with it. */
export const NODE_LOG_DIR = "/var/log/containers/";
/** CrowdSec 1.4.6 refuses this field (see forReplay). */
const POLL = "poll_without_inotify";
/** The mail Deployment, whose container's log is replayed. */
const NAMESPACE = "mailserver";
const DEPLOYMENT = "mailserver";

interface Datasource extends Record<string, unknown> {
  filenames?: string[];
  labels?: { type?: string; program?: string };
}

/** The YAML documents that are datasources: CrowdSec skips an empty one (v1.4.6 pkg/acquisition/acquisition.go:198). */
function datasources(text: string): Datasource[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Datasource | null)
    .filter((d): d is Datasource => d !== null && typeof d === "object");
}

export interface Acquisition {
  text: string;
  globs: string[];
  /** The runtime label (`containerd` or `docker`): which raw-log parser CrowdSec needs. */
  runtime: string;
  collections: string[];
  /** The evidence line that says what was read. */
  line: string;
}

/** The rendered acquisition: its text, globs, runtime label and the collections it asks for. */
export function plannedAcquisition(run: ProgramRun): Acquisition {
  const cm = run.resources.find(
    (r) =>
      r.type === "kubernetes:core/v1:ConfigMap" &&
      (r.inputs.metadata as { name?: string } | undefined)?.name === ACQUISITION_CONFIGMAP,
  );
  const data = (cm?.inputs.data ?? {}) as Record<string, string>;
  const text = data[ACQUISITION_KEY];
  if (!cm || !text) throw new Error(`the plan has no ConfigMap ${ACQUISITION_CONFIGMAP}`);
  const ns = (cm.inputs.metadata as { namespace?: string }).namespace ?? "default";
  const docs = datasources(text);
  const runtime = docs[0]?.labels?.type ?? "containerd";
  const polls = docs.some((d) => d[POLL] !== undefined);
  return {
    text,
    globs: [...new Set(docs.flatMap((d) => d.filenames ?? []))],
    runtime,
    collections: (data[COLLECTIONS_KEY] ?? "").split(/\s+/).filter(Boolean),
    line:
      `acquisition: ConfigMap ${ns}/${ACQUISITION_CONFIGMAP} key ${ACQUISITION_KEY}, ${docs.length} datasources (programs ${docs.map((d) => d.labels?.program).join(", ")}; type ${runtime}), collections ${data[COLLECTIONS_KEY] ?? "-"}` +
      (polls
        ? `; it sets ${POLL}, which 1.4.6 refuses (yaml.UnmarshalStrict, crowdsec v1.4.6 pkg/acquisition/modules/file/file.go:58; the field came in v1.5.0), so the replay drops it: 1.4.6 always polls (tail.Config{Poll: true}, file.go:292)`
        : ""),
  };
}

/**
 * The rendered acquisition for one replay: each glob's directory (the node's
 * /var/log/containers/) replaced by `dir`, its file pattern kept; `mode: cat` (read once, not
 * tailed); `poll_without_inotify` dropped (CrowdSec 1.4.6 parses file datasources strictly and
 * predates the field). Nothing else changes.
 */
export function forReplay(acquisition: string, dir: string): string {
  return datasources(acquisition)
    .map(({ [POLL]: _poll, ...ds }) => {
      const filenames = (ds.filenames ?? []).map((f) => {
        if (!f.startsWith(NODE_LOG_DIR)) throw new Error(`glob ${f} is not under ${NODE_LOG_DIR}`);
        return dir + f.slice(NODE_LOG_DIR.length);
      });
      return stringify({ ...ds, filenames, mode: "cat" });
    })
    .join("---\n");
}

/**
 * The kubelet's layout under `work`: the container's log at pods/<ns>_<pod>_<uid>/<container>/0.log
 * and the link containers/<pod>_<ns>_<container>-<container id>.log to it.
 */
export function replayFiles(work: string, run: ProgramRun, cri: string) {
  const container = deploymentPod(run, NAMESPACE, DEPLOYMENT).container.name;
  const alnum = (n: number) =>
    Array.from(randomBytes(n), (b) => "bcdfghjklmnpqrstvwxz2456789"[b % 27]).join("");
  const podName = `${DEPLOYMENT}-${alnum(10)}-${alnum(5)}`;
  const uid = [8, 4, 4, 4, 12].map((n) => randomBytes(n / 2).toString("hex")).join("-");
  const log = path.join(work, "pods", `${NAMESPACE}_${podName}_${uid}`, container, "0.log");
  fs.mkdirSync(path.dirname(log), { recursive: true });
  fs.writeFileSync(log, cri);
  const id = randomBytes(32).toString("hex");
  const link = path.join(work, "containers", `${podName}_${NAMESPACE}_${container}-${id}.log`);
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(log, link);
  return { link, lines: cri.split("\n").filter(Boolean).length };
}
