// The console's sign-in buttons: WebAuthn ceremonies against /v1/auth/passkey/*, and the JSON
// doors (password sign-in, sign-up and reset; email link). Served from /console/assets so the pages' CSP allows no inline
// script. Binary WebAuthn fields travel as base64url; the session arrives as cookies.
"use strict";

const bytes = (text) =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const text = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function say(message) {
  document.getElementById("status").textContent = message;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.message || `${path}: ${response.status}`);
  return answer;
}

async function register(name) {
  const ceremony = await post("/v1/auth/passkey/register/start", name ? { name } : {});
  const options = ceremony.options.publicKey;
  options.challenge = bytes(options.challenge);
  options.user.id = bytes(options.user.id);
  for (const excluded of options.excludeCredentials || []) excluded.id = bytes(excluded.id);
  const credential = await navigator.credentials.create({ publicKey: options });
  await post("/v1/auth/passkey/register/finish", {
    handle: ceremony.handle,
    credential: {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: text(credential.response.attestationObject),
        clientDataJSON: text(credential.response.clientDataJSON),
      },
      extensions: credential.getClientExtensionResults(),
    },
  });
}

async function signIn() {
  const ceremony = await post("/v1/auth/passkey/login/start");
  const options = ceremony.options.publicKey;
  options.challenge = bytes(options.challenge);
  for (const allowed of options.allowCredentials || []) allowed.id = bytes(allowed.id);
  const credential = await navigator.credentials.get({ publicKey: options });
  const response = credential.response;
  await post("/v1/auth/passkey/login/finish", {
    handle: ceremony.handle,
    credential: {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: text(response.authenticatorData),
        clientDataJSON: text(response.clientDataJSON),
        signature: text(response.signature),
        userHandle: response.userHandle ? text(response.userHandle) : null,
      },
      extensions: credential.getClientExtensionResults(),
    },
  });
}

// Runs `action` for a click or a submit, then goes to `next`; shows the error otherwise.
function on(id, event, action, next) {
  const element = document.getElementById(id);
  if (!element) return;
  element.addEventListener(event, async (e) => {
    e.preventDefault();
    say("");
    try {
      const message = await action(element);
      if (next) window.location.assign(next);
      else if (message) say(message);
    } catch (error) {
      say(error.message);
    }
  });
}

const field = (form, name) => form.elements.namedItem(name).value;

// Where a sign-in goes next: the page that sent the person here (`return_to`), else the console.
const afterSignIn = document.getElementById("after-sign-in")?.dataset.next || "/console";

// Sent here from /console without a live access cookie: the refresh cookie (path /v1/auth, so
// only a request there carries it) may still resume the session; otherwise stay to sign in.
if (new URLSearchParams(window.location.search).has("resume")) {
  post("/v1/auth/refresh").then(() => window.location.assign(afterSignIn), () => {});
}

on("passkey-login", "click", signIn, afterSignIn);
on("passkey-signup", "submit", (form) => register(field(form, "name").trim()), afterSignIn);
on("passkey-add", "click", () => register(), "/console");
on("password-login", "submit", (form) =>
  post("/v1/auth/password/login", { email: field(form, "email"), password: field(form, "password") }),
  afterSignIn);
on("password-signup", "submit", async (form) => {
  const name = field(form, "name").trim();
  await post("/v1/auth/password/register", {
    email: field(form, "email"),
    password: field(form, "password"),
    ...(name ? { name } : {}),
    redirect_to: form.dataset.redirect,
  });
  return "Check your mail: the link in it creates the account.";
});
on("password-reset-start", "submit", async (form) => {
  await post("/v1/auth/password/reset/start", { email: field(form, "email") });
  return "Check your mail for a code, then set the new password below.";
});
on("password-reset-finish", "submit", (form) =>
  post("/v1/auth/password/reset/finish", {
    email: field(form, "email"),
    code: field(form, "code"),
    new_password: field(form, "password"),
  }),
  afterSignIn);
on("email-start", "submit", async (form) => {
  await post("/v1/auth/email/start", { email: field(form, "email"), redirect_to: form.dataset.redirect });
  return "Check your mail for a sign-in link and code.";
});
