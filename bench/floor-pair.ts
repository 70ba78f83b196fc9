/**
 * The part of `npm run plan` no program or pack of ours can remove: this process loads the Pulumi
 * SDK and the three providers (bench/floor.ts) while a one-policy pack that does nothing starts
 * beside it through the CLI's runner, spawned first as plan spawns the real pack. Argument: the
 * do-nothing pack's directory.
 */
import { PolicyPackClient } from "../tools/analyzer/client";

async function main(dir: string): Promise<void> {
  const pack = PolicyPackClient.start(dir);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("./floor");
  await (await pack).close();
}

main(process.argv[2] ?? "").catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
