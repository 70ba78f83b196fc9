/**
 * The program once under mocks against the ready world (the cluster as the runbook's steps leave
 * it), with the placeholder Vault answers kept aside: the scenarios log in with the mailbox
 * passwords the rendered accounts file hashes. They never leave this process.
 */
import { loadStackConfig, runProgram, type ProgramRun } from "../offline/mock-program";
import { placeholderVault } from "../offline/mock-vault";
import { placeholderKeys } from "../offline/placeholder-keys";
import { VAULT_KEYS } from "../../lib/secrets";
import { loadWorld } from "../world/load";

export interface RehearsalProgram {
  run: ProgramRun;
  /** Mailbox address → placeholder password, as the mocked Vault holds them. */
  passwords: Record<string, string>;
}

/** The prod stack's plan under mocks and the placeholder passwords its accounts come from. */
export async function rehearsalProgram(): Promise<RehearsalProgram> {
  const config = loadStackConfig("prod");
  const world = loadWorld("ready");
  const vault = placeholderVault(config, await placeholderKeys(), world);
  let accounts: unknown;
  const run = await runProgram({
    config,
    world,
    vault: (mount, name) => {
      const data = vault(mount, name);
      accounts ??= data[VAULT_KEYS.platform.accounts];
      return data;
    },
  });
  // The owner's encoding may wrap the JSON object in a JSON string (world/today/vault.yaml).
  let parsed: unknown = accounts ?? "{}";
  while (typeof parsed === "string") parsed = JSON.parse(parsed);
  return { run, passwords: parsed as Record<string, string> };
}
