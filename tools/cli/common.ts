/**
 * What every CLI in tools/ shares: options parsed by `node:util` parseArgs, input files read with
 * an error that names them, and the main wrapper: a compiled tool older than its sources refuses to
 * run, any failure is one line on stderr and exit 2.
 */
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { guardProcess } from "./children";
import { assertToolsFresh } from "./project";

/** A failure caused by what the user gave us (arguments, files, config): exit 2, one line. */
export class InputError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs' own error codes, as the one line a user reads. */
function argvProblem(err: { code?: string; message: string }): string {
  const option = /'(--?[\w-]+)/.exec(err.message)?.[1] ?? "";
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option} (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return `option ${option} needs a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ""} (see --help)`;
    default:
      return err.message;
  }
}

/** `--flag value` / `--flag=value` options; unknown flags, missing or empty values throw. */
export function parseOptions<T extends Options>(argv: string[], options: T) {
  const parse = () => parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (err) {
    throw new InputError(argvProblem(err as { code?: string; message: string }));
  }
  const values = parsed.values;
  for (const [name, value] of Object.entries(values)) {
    if (value === "") throw new InputError(`option --${name} needs a value`);
  }
  return values;
}

/** Reads a file the user named; a missing or unreadable file is an InputError naming it. */
export function readInput(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : (err as Error).message;
    throw new InputError(`cannot read ${what} ${file}: ${why}`);
  }
}

/** The one line a user reads for a failure (PLAN_DEBUG adds the stack). */
function reportFailure(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`error: ${message.split("\n")[0]}`);
  if (process.env.PLAN_DEBUG && err instanceof Error) console.error(err.stack);
}

/**
 * Runs a CLI's main: any failure, a crash included, is one line on stderr and exit 2, and every
 * child process the CLI started is ended on the way out (tools/cli/children.ts).
 */
export function runCli(main: (argv: string[]) => Promise<number>): void {
  let crashed = false;
  guardProcess((err) => {
    if (crashed) return;
    crashed = true;
    reportFailure(err);
    process.exit(2);
  });
  Promise.resolve()
    .then(() => {
      assertToolsFresh();
      return main(process.argv.slice(2));
    })
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        reportFailure(err);
        process.exitCode = 2;
      },
    );
}
