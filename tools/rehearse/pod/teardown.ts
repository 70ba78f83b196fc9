/**
 * How a pod is undone: each part it made registers its undo as soon as the part exists, and the
 * undo steps run once, last made first. Until then they are an `exit` handler too, because
 * Ctrl-C and crashes end in process.exit (tools/cli/common.ts), which runs no finally block; so
 * every step is synchronous.
 */
export class Teardown {
  private readonly steps: (() => void)[] = [];
  private done = false;

  constructor() {
    process.once("exit", this.run);
  }

  add(step: () => void): void {
    this.steps.push(step);
  }

  /** Runs every step, even after one throws (the first error is thrown at the end). */
  readonly run = (): void => {
    if (this.done) return;
    this.done = true;
    process.removeListener("exit", this.run);
    const errors: unknown[] = [];
    for (const step of this.steps.reverse()) {
      try {
        step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
  };
}
