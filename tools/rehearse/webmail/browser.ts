/**
 * Headless Chromium (Debian's chromium through playwright-core) driving Roundcube's pages as a
 * user does: the login form, the compose form, the inbox list.
 */
import { chromium, type Browser, type BrowserServer, type Page } from "playwright-core";
import { track } from "../../cli/children";

export const CHROMIUM = "/usr/bin/chromium";

/** Chromium with `host` resolving to loopback, where PHP listens. */
export async function launchChromium(host: string): Promise<BrowserServer> {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", `--host-resolver-rules=MAP ${host} 127.0.0.1`],
    timeout: 15_000,
  });
  track(server.process());
  return server;
}

export function connect(server: BrowserServer): Promise<Browser> {
  return chromium.connect(server.wsEndpoint());
}

export function newPage(browser: Browser): Promise<Page> {
  return browser.newPage({ viewport: { width: 1280, height: 800 } });
}

/** Roundcube's login form, submitted; true when the mail task's message list shows. */
export async function logIn(page: Page, base: string, user: string, pass: string) {
  page.setDefaultTimeout(15_000);
  await page.goto(base);
  await page.locator("#rcmloginuser").fill(user);
  await page.locator("#rcmloginpwd").fill(pass);
  // A refused login answers the form's POST with 401 and the form again: no wait for the list.
  const answer = page
    .waitForResponse((r) => r.request().method() === "POST" && /_task=login/.test(r.url()))
    .catch(() => undefined);
  await page.locator("#rcmloginsubmit").click();
  const status = (await answer)?.status() ?? 0;
  if (status === 0 || status >= 400) return false;
  return page
    .waitForURL(/_task=mail/, { timeout: 15_000 })
    .then(() => page.locator("#messagelist").waitFor({ state: "attached" }))
    .then(
      () => true,
      () => false,
    );
}

/** The compose form filled and sent; true once Roundcube has left the compose page. */
export async function send(page: Page, base: string, to: string, subject: string) {
  await page.goto(`${base}?_task=mail&_action=compose`);
  const recipient = page.locator(".recipient-input input").first();
  await recipient.fill(to);
  await recipient.press("Enter");
  await page.locator("#compose-subject").fill(subject);
  await page.locator("#composebody").fill("Sent through Roundcube by the rehearsal.\n");
  await page.locator(".formbuttons .send, button.send, a.send").first().click();
  return page
    .waitForURL((u) => !u.search.includes("_action=compose"), { timeout: 20_000 })
    .then(() => true)
    .catch(() => false);
}

/** Reloads the inbox list until a row shows `subject`, for up to 15 s. */
export async function inboxShows(page: Page, base: string, subject: string, signal: AbortSignal) {
  const row = page.locator("#messagelist tbody tr", { hasText: subject });
  const until = Date.now() + 15_000;
  let arrived = false;
  while (!arrived && Date.now() < until && !signal.aborted) {
    await page.goto(`${base}?_task=mail&_mbox=INBOX`);
    await page.locator("#messagelist").waitFor({ state: "attached" });
    arrived = await row
      .first()
      .waitFor({ timeout: 1500 })
      .then(() => true)
      .catch(() => false);
  }
  return arrived;
}

/** Roundcube's message box text (login or send error), or the page title. */
export async function roundcubeMessage(page: Page): Promise<string> {
  const text = await page
    .locator("#messagestack div")
    .allInnerTexts()
    .catch(() => [] as string[]);
  return text.join(" ").trim() || `page "${await page.title().catch(() => "?")}"`;
}
