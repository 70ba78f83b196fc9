/**
 * The container's log as the kubelet writes it (CRI format: `<RFC3339Nano> stdout F <line>`),
 * copied from the pod's mail.log as it grows: what CrowdSec reads in the cluster.
 */
import * as fs from "node:fs";

/** Follows `source` into `target` every 200 ms; the returned function copies the rest and stops. */
export function followCri(source: string, target: string): () => void {
  let offset = 0;
  let partial = "";
  const tick = () => {
    const grown = readNew(source, offset);
    if (!grown) return;
    offset += grown.length;
    const lines = (partial + grown.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    // The kubelet stamps lines as they arrive; nanoseconds padded from the millisecond clock.
    const stamp = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
    fs.appendFileSync(target, lines.map((l) => `${stamp} stdout F ${l}\n`).join(""));
  };
  const timer = setInterval(tick, 200);
  return () => {
    clearInterval(timer);
    tick();
  };
}

/** The bytes of `file` past `offset`, or undefined when there are none (or no file yet). */
function readNew(file: string, offset: number): Buffer | undefined {
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch {
    return undefined;
  }
  if (size <= offset) return undefined;
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}
