// Drives Tessera's console pages in a real browser (Debian Chromium through playwright-core)
// holding a CDP virtual authenticator (CTAP2, resident keys, user verification): the passkey
// ceremonies are the browser's own, the keys the authenticator's.
//
//   node passkey_browser.mjs <mode>   (JSON input on stdin, one JSON line out)
//
// Modes (input: {base, …}):
//   signup   sign up with a passkey on /console/login, sign out, sign in again usernameless;
//            reports both users, where sign-out led, the sign-in's finish request (to replay),
//            two more answers held back unsent, and the authenticator's credentials.
//   link     sign in with {email, password}, add a passkey on /console, try adding a second one
//            from the same authenticator (excluded), sign out, sign in with the passkey.
//   password-signup  {email, password, name} through "Create an account"; reports what the page says.
//   resume   signs in with {email, password}, loses the access cookie (it lives 15 minutes),
//            opens /console again; reports both users and where the browser went meanwhile.
//   visit    opens {url} (an emailed link); reports the user /console shows and their doors.
//   password-reset-start   {email} through "Forgot your password?"; reports what the page says.
//   password-reset-finish  {email, code, password}; reports the user /console shows.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

async function readInput() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

async function withBrowser(run) {
  const profile = mkdtempSync(join(tmpdir(), "tessera-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    context.setDefaultTimeout(20000);
    const page = context.pages()[0] || (await context.newPage());
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2", transport: "internal", hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      },
    });
    const credentials = async () =>
      (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials
        .map((c) => ({ id: c.credentialId, resident: c.isResidentCredential, sign_count: c.signCount }));
    return await run(page, credentials);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// Clicks `selector` and waits until the page is at `path`; a stay elsewhere reports #status.
async function clickTo(page, selector, path, base) {
  await page.click(selector);
  try {
    await page.waitForURL(base + path);
  } catch (error) {
    const status = await page.textContent("#status").catch(() => "");
    throw new Error(`${selector} did not lead to ${path} (at ${page.url()}): ${status}`);
  }
}

// Waits until #status says something (an error the page shows).
async function statusText(page) {
  await page.waitForFunction(() => document.getElementById("status").textContent !== "");
  return page.textContent("#status");
}

async function identities(page) {
  return page.$$eval("tr.identity", (rows) => rows.map((row) => row.dataset.kind));
}

async function signup(input) {
  const base = input.base;
  return withBrowser(async (page, credentials) => {
    let loginFinish = null;
    page.on("request", (request) => {
      if (request.url() === `${base}/v1/auth/passkey/login/finish`) loginFinish ??= request.postDataJSON();
    });
    await page.goto(`${base}/console/login`);
    await page.fill("#passkey-signup input[name=name]", input.name);
    await clickTo(page, "#passkey-signup button", "/console", base);
    const signedUp = await page.textContent("#user-id");
    const signedUpName = await page.textContent("#user-name");
    const kinds = await identities(page);
    await clickTo(page, "#logout button", "/console/login", base);
    // Signed out: the console sends the browser back to the sign-in page.
    await page.goto(`${base}/console`);
    const afterSignOut = page.url();
    await clickTo(page, "#passkey-login", "/console", base);
    const signedIn = await page.textContent("#user-id");
    // Two more sign-ins whose answers are held back (the request is aborted), for the test to
    // send itself: the browser signed them, the server has not seen them.
    const held = [];
    await page.route(`${base}/v1/auth/passkey/login/finish`, (route) => {
      held.push(route.request().postDataJSON());
      return route.abort();
    });
    for (let i = 0; i < 2; i++) {
      await page.goto(`${base}/console/login`);
      await page.click("#passkey-login");
      await statusText(page);
    }
    return {
      signed_up: signedUp,
      signed_up_name: signedUpName,
      identities: kinds,
      after_sign_out: afterSignOut,
      signed_in: signedIn,
      login_finish: loginFinish,
      held,
      credentials: await credentials(),
    };
  });
}

async function link(input) {
  const base = input.base;
  return withBrowser(async (page, credentials) => {
    await page.goto(`${base}/console/login`);
    await page.fill("#password-login input[name=email]", input.email);
    await page.fill("#password-login input[name=password]", input.password);
    await clickTo(page, "#password-login button", "/console", base);
    const passwordUser = await page.textContent("#user-id");
    // Success reloads /console.
    await Promise.all([page.waitForEvent("framenavigated"), page.click("#passkey-add")]);
    await page.waitForLoadState();
    const kinds = await identities(page);
    // The same authenticator again: its passkey is in excludeCredentials, so it refuses.
    await page.click("#passkey-add");
    const secondAdd = await statusText(page);
    await clickTo(page, "#logout button", "/console/login", base);
    await clickTo(page, "#passkey-login", "/console", base);
    return {
      password_user: passwordUser,
      identities: kinds,
      second_add: secondAdd,
      identities_after: await identities(page),
      signed_in: await page.textContent("#user-id"),
      credentials: await credentials(),
    };
  });
}

// Opens the <details> holding `form` and fills its fields.
async function fillForm(page, form, fields) {
  await page.click(`details:has(#${form}) summary`);
  for (const [name, value] of Object.entries(fields)) {
    await page.fill(`#${form} input[name=${name}]`, value);
  }
}

async function passwordSignup(input) {
  return withBrowser(async (page) => {
    await page.goto(`${input.base}/console/login`);
    const { email, password, name } = input;
    await fillForm(page, "password-signup", { email, password, name });
    await page.click("#password-signup button");
    return { status: await statusText(page) };
  });
}

async function resume(input) {
  const base = input.base;
  return withBrowser(async (page) => {
    const context = page.context();
    await page.goto(`${base}/console/login`);
    await page.fill("#password-login input[name=email]", input.email);
    await page.fill("#password-login input[name=password]", input.password);
    await clickTo(page, "#password-login button", "/console", base);
    const signedIn = await page.textContent("#user-id");
    await context.clearCookies({ name: "tessera_session" });
    const visited = [];
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) visited.push(frame.url());
    });
    await page.goto(`${base}/console`);
    await page.waitForURL(`${base}/console`);
    return { signed_in: signedIn, resumed: await page.textContent("#user-id"), visited };
  });
}

async function visit(input) {
  return withBrowser(async (page) => {
    await page.goto(input.url);
    await page.waitForURL(`${input.base}/console`);
    return { user: await page.textContent("#user-id"), identities: await identities(page) };
  });
}

async function passwordResetStart(input) {
  return withBrowser(async (page) => {
    await page.goto(`${input.base}/console/login`);
    await fillForm(page, "password-reset-start", { email: input.email });
    await page.click("#password-reset-start button");
    return { status: await statusText(page) };
  });
}

async function passwordResetFinish(input) {
  return withBrowser(async (page) => {
    await page.goto(`${input.base}/console/login`);
    const { email, code, password } = input;
    await fillForm(page, "password-reset-finish", { email, code, password });
    await clickTo(page, "#password-reset-finish button", "/console", input.base);
    return { user: await page.textContent("#user-id") };
  });
}

const modes = {
  signup,
  link,
  "password-signup": passwordSignup,
  resume,
  visit,
  "password-reset-start": passwordResetStart,
  "password-reset-finish": passwordResetFinish,
};
const mode = modes[process.argv[2]];
if (!mode) {
  console.error(`unknown mode ${process.argv[2]}; one of ${Object.keys(modes).join(", ")}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(await mode(await readInput())) + "\n");
