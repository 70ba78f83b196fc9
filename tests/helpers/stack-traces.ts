/**
 * Loaded by mocha after ts-node (.mocharc.json). ts-node maps every stack trace through the
 * TypeScript source maps, and the Pulumi SDK takes a stack trace for each promise it makes
 * (`debuggablePromise`), kept only to be printed if that promise leaks: under mocks, mapping them
 * was a fifth of the program tests' CPU. Those traces are formatted, unmapped, only when printed;
 * every other trace is mapped as before.
 */
const mapped = Error.prepareStackTrace?.bind(Error);

const frame = (f: NodeJS.CallSite) =>
  `${f.getFunctionName() ?? "<anonymous>"} (${f.getFileName() ?? "?"}:${f.getLineNumber() ?? 0})`;

Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]): unknown =>
  frames[0]?.getFunctionName() === "debuggablePromise" || !mapped
    ? { toString: () => `${String(error)}\n    at ${frames.map(frame).join("\n    at ")}` }
    : mapped(error, frames);
