/**
 * Output files of plan and audit: checked before any work is done, written only after everything
 * succeeded, each through a temporary name and a rename so that a file is whole or absent.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { InputError } from "../cli/common";

/** A file or directory to write once everything succeeded. */
export type Output =
  | { kind: "file"; path: string; text: string }
  | {
      kind: "dir";
      path: string;
      files: { name: string; text: string }[];
    };

/** Refuses output paths that cannot be written before any work is done. */
export function checkOutputPath(target: string, kind: "file" | "dir"): void {
  const dir = kind === "file" ? path.dirname(path.resolve(target)) : path.resolve(target);
  let probe = dir;
  while (!existsSync(probe)) probe = path.dirname(probe);
  if (kind === "file" && existsSync(target) && !isFile(target)) {
    throw new InputError(`cannot write ${target}: it is a directory`);
  }
  if (!isDir(probe)) throw new InputError(`cannot write ${target}: ${probe} is not a directory`);
}

function isFile(p: string): boolean {
  try {
    return !statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Writes each output through a temporary name and a rename, so a file is whole or absent. */
export function writeOutputs(outputs: Output[]): void {
  for (const out of outputs) {
    if (out.kind === "file") {
      mkdirSync(path.dirname(path.resolve(out.path)), { recursive: true });
      const tmp = `${out.path}.tmp-${process.pid}`;
      writeFileSync(tmp, out.text);
      renameSync(tmp, out.path);
    } else {
      const tmp = `${path.resolve(out.path)}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      for (const f of out.files) writeFileSync(path.join(tmp, f.name), f.text);
      if (existsSync(out.path)) {
        // Replace only the files this tool writes (*.yaml); leave anything else in place.
        mkdirSync(out.path, { recursive: true });
        for (const old of readdirSync(out.path)) {
          if (old.endsWith(".yaml")) rmSync(path.join(out.path, old));
        }
        for (const f of out.files) renameSync(path.join(tmp, f.name), path.join(out.path, f.name));
        rmSync(tmp, { recursive: true, force: true });
      } else {
        renameSync(tmp, out.path);
      }
    }
  }
}
