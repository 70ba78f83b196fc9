/**
 * Resource properties as plain data. The SDK hands policies a proxy that throws on any value that
 * is unknown during preview; copying it once turns each such value into an `Unknown` marker, so a
 * policy can still judge the known parts and then decide what an unknown means for it.
 */

/**
 * A value the engine does not know yet (preview). Carries the SDK's own error for re-throwing; its
 * message names the path.
 */
export class Unknown {
  constructor(readonly error: Error) {}
}

export type Plain = null | boolean | number | string | Unknown | Plain[] | { [key: string]: Plain };
export type PlainObject = { [key: string]: Plain };

// The SDK's UnknownValueError is not exported in its typings; recognise it by class name.
function isUnknownValueError(err: unknown): err is Error {
  return err instanceof Error && err.constructor.name === "UnknownValueError";
}

/**
 * The SDK's proxy internals (@pulumi/policy proxy.js, @internal, pinned by the lockfile): the key
 * that returns a proxy's target, and the sentinels its trap throws on. The SDK unwraps its own
 * proxies the same way (deserialize.js#serializeProperty).
 */
interface SdkProxy {
  getSpecialProxyTarget: string;
  isSpecialProxy: string;
  [sentinel: `unknown${string}Value`]: string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdkProxy = require("@pulumi/policy/proxy") as SdkProxy;
const SENTINELS = new Set<unknown>(
  Object.entries(sdkProxy)
    .filter(([k]) => /^unknown\w+Value$/.test(k))
    .map(([, v]): unknown => v),
);

/**
 * Deep-copies (possibly proxied) properties, replacing unknown values with `Unknown`. A proxy is
 * copied from its target: its trap allocates a path and a proxy for every read, which was most of
 * the pack's own time at 10,000 resources; an unknown found there is read once more through the
 * proxy, for the SDK's own error. Plain values (a merged Patch judged again) copy as they are.
 */
export function toPlain(value: unknown): Plain {
  if (!isSdkProxy(value)) return copy(value, undefined, []);
  return copy((value as Record<string, unknown>)[sdkProxy.getSpecialProxyTarget], value, []);
}

function isSdkProxy(value: unknown): value is object {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[sdkProxy.isSpecialProxy] === true
  );
}

/** `value` (the target of `proxy`, when given) as plain data; `path` is where it is in the proxy. */
function copy(value: unknown, proxy: object | undefined, path: (string | number)[]): Plain {
  if (value === null || value === undefined) return null;
  // Already plain: an unknown stays unknown.
  if (value instanceof Unknown) return value;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  if (!proxy && isSdkProxy(value)) return toPlain(value);
  // `path` is one array pushed and popped along the walk: only an unknown copies it.
  const child = (key: string | number, v: unknown): Plain => {
    path.push(key);
    const out =
      proxy && typeof v === "string" && SENTINELS.has(v)
        ? unknownAt(proxy, path)
        : copy(v, proxy, path);
    path.pop();
    return out;
  };
  if (Array.isArray(value)) return value.map((v: unknown, i) => child(i, v));
  if (typeof value === "object") {
    const out: PlainObject = {};
    for (const [key, v] of Object.entries(value)) out[key] = child(key, v);
    return out;
  }
  return null;
}

/** The SDK's error for the unknown at `path`, read through its proxy. */
function unknownAt(proxy: object, path: (string | number)[]): Unknown {
  try {
    let cur = proxy as Record<string | number, unknown>;
    for (const key of path) cur = cur[key] as Record<string | number, unknown>;
  } catch (err) {
    if (isUnknownValueError(err)) return new Unknown(err);
    throw err;
  }
  throw new Error(`the SDK's proxy read no unknown at .${path.join(".")}`);
}

/**
 * Copies only `key` of (possibly proxied) object properties, as `toPlain` would: for a view that
 * any resource may publish, without copying everything else every resource carries.
 */
export function pickPlain(value: object, key: string): PlainObject {
  return Object.prototype.hasOwnProperty.call(value, key) ? { [key]: readChild(value, key) } : {};
}

function readChild(container: object, key: string | number): Plain {
  try {
    return toPlain((container as Record<string | number, unknown>)[key]);
  } catch (err) {
    if (isUnknownValueError(err)) return new Unknown(err);
    throw err;
  }
}

export function isObject(v: Plain | undefined): v is PlainObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Unknown);
}

/** Follows a path of object keys; stops at (and returns) an `Unknown` on the way. */
export function at(v: Plain | undefined, ...keys: string[]): Plain | undefined {
  let cur = v;
  for (const key of keys) {
    if (cur instanceof Unknown) return cur;
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export function str(v: Plain | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function list(v: Plain | undefined): Plain[] {
  return Array.isArray(v) ? v : [];
}

/**
 * Collects unknown values that matter to a policy's verdict. `settle()` re-throws the first one so
 * the SDK reports its advisory "can't run policy ... during preview", after the policy has already
 * reported every violation it could prove from known values.
 */
export class PreviewGaps {
  private first?: Unknown;
  private where = "";

  note(value: Unknown, where = ""): void {
    if (this.first) return;
    this.first = value;
    this.where = where;
  }

  /** Notes `v` if it is unknown; returns whether it was. */
  check(v: Plain | undefined, where = ""): v is Unknown {
    if (v instanceof Unknown) this.note(v, where);
    return v instanceof Unknown;
  }

  /** Whether an unknown has been noted: a missing thing might then exist after all. */
  get pending(): boolean {
    return this.first !== undefined;
  }

  settle(): void {
    if (!this.first) return;
    const err = this.first.error;
    if (this.where) err.message = `${this.where}: ${err.message}`;
    throw err;
  }
}

/** Hands an unknown straight to the SDK (advisory "can't run policy during preview"). */
export function raise(value: Unknown, where = ""): never {
  const gaps = new PreviewGaps();
  gaps.note(value, where);
  gaps.settle();
  throw value.error;
}

/** Keys of the object maps at `fields` (e.g. data, stringData); unknown maps are noted in gaps. */
export function keysOf(props: Plain, fields: string[], gaps: PreviewGaps): string[] {
  return fields.flatMap((field) => {
    const map = at(props, field);
    return gaps.check(map) || !isObject(map) ? [] : Object.keys(map);
  });
}
