// Mosaic Studio's web page: a thin client of the documented JSON API, nothing more.
// The sign-in token lives in sessionStorage (gone with the tab); every string from the server is
// written with textContent, never as HTML.
"use strict";

const TOKEN_KEY = "mosaic.jwt";
const STATEMENT_PAGE = 50;

const $ = (id) => document.getElementById(id);
let statementAfter = 0;
let presets = [];

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function notify(message, isError) {
  const notice = $("notice");
  notice.textContent = message;
  notice.className = isError ? "error" : "ok";
  notice.hidden = !message;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error) return `${body.error.message} (${body.error.code}, HTTP ${response.status})`;
  } catch (ignored) {
    // not JSON: fall through to the status line
  }
  return `HTTP ${response.status} ${response.statusText}`;
}

// fetch with the JWT; a 401 means the session ended: back to the sign-in form.
async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (token()) headers.set("Authorization", `Bearer ${token()}`);
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && token()) {
    signOut();
    throw new Error("Your session has ended; please sign in again.");
  }
  if (!response.ok) throw new Error(await errorMessage(response));
  return response;
}

async function postJson(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}

async function showBalance() {
  const body = await (await api("/api/credits/balance")).json();
  $("balance").textContent = String(body.balance);
  $("plan").textContent =
    `Plan ${body.plan_name} (${body.sub_status}), ${body.monthly_quota} credits a month.`;
}

async function showKeys() {
  const body = await (await api("/api/keys")).json();
  const rows = $("keys");
  rows.replaceChildren();
  for (const key of body.keys) {
    const row = document.createElement("tr");
    cell(row, key.name);
    cell(row, `${key.prefix}…`, "mono");
    cell(row, when(key.created_at));
    cell(row, key.revoked_at ? `revoked ${when(key.revoked_at)}` : when(key.last_used_at));
    const action = cell(row, "");
    if (!key.revoked_at) {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.textContent = "Revoke";
      revoke.addEventListener("click", () => revokeKey(key));
      action.appendChild(revoke);
    }
    rows.appendChild(row);
  }
}

async function revokeKey(key) {
  if (!window.confirm(`Revoke the key "${key.name}"? Programs using it stop working at once.`)) return;
  try {
    await api(`/api/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    notify(`Key "${key.name}" revoked.`);
    await showKeys();
  } catch (error) {
    notify(error.message, true);
  }
}

async function showStatement(reset) {
  if (reset) {
    statementAfter = 0;
    $("statement").replaceChildren();
  }
  const query = new URLSearchParams({ after: String(statementAfter), limit: String(STATEMENT_PAGE) });
  const body = await (await api(`/api/credits/history?${query}`)).json();
  for (const line of body.lines) {
    const row = document.createElement("tr");
    cell(row, line.line);
    cell(row, when(line.at));
    cell(row, line.kind);
    cell(row, line.tool);
    cell(row, line.delta_credits > 0 ? `+${line.delta_credits}` : line.delta_credits, "num");
    cell(row, line.balance_after, "num");
    cell(row, line.reason);
    $("statement").appendChild(row);
  }
  statementAfter = body.next_after === null ? statementAfter : body.next_after;
  $("more-statement").hidden = body.next_after === null;
}

async function showPresets() {
  const response = await fetch("/api/presets");
  if (!response.ok) return;
  presets = await response.json();
  const modes = (response.headers.get("X-Available-Modes") || "").split(",");
  const select = document.querySelector("#generate-form select[name=preset]");
  select.replaceChildren(select.options[0]);
  for (const preset of presets) {
    const option = document.createElement("option");
    option.value = preset.name;
    option.textContent = `${preset.title} (${preset.level})`;
    select.appendChild(option);
  }
  const aiAvailable = modes.includes("ai");
  document.querySelector("#generate-form option[value=ai]").disabled = !aiAvailable;
  $("ai-card").hidden = !aiAvailable;
}

async function refresh() {
  await Promise.all([showBalance(), showKeys(), showStatement(true)]);
}

function fileNameOf(response, fallback) {
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return match ? match[1] : fallback;
}

/** Posts `form` to `url` on submit and offers the answer as a file (`prefix`-link, `prefix`-result). */
function downloadOnSubmit(form, url, prefix, fallbackName) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, async () => {
      const response = await api(url, { method: "POST", body: formWithoutBlanks(form) });
      await download(response, `${prefix}-link`, `${prefix}-result`, fallbackName);
      await refresh();
    });
  });
}

async function download(response, linkId, resultId, fallbackName) {
  const blob = await response.blob();
  const link = $(linkId);
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  link.download = fileNameOf(response, fallbackName);
  link.textContent = `Download ${link.download} (${Math.ceil(blob.size / 1024)} KB)`;
  $(resultId).hidden = false;
  const charged = response.headers.get("X-Credits-Charged");
  const remaining = response.headers.get("X-Credits-Remaining");
  notify(charged ? `Done: ${charged} credit(s) charged, ${remaining} left.` : "Done.");
}

// Only the fields the user set go to the server: an empty field takes the documented default.
function formWithoutBlanks(form) {
  const data = new FormData();
  for (const [name, value] of new FormData(form)) {
    if (value instanceof File ? value.size > 0 || value.name : value !== "") data.append(name, value);
  }
  return data;
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  notify("Working…");
  try {
    await work();
  } catch (error) {
    notify(error.message, true);
  } finally {
    button.disabled = false;
  }
}

function signedIn(isIn) {
  $("signed-in").hidden = !isIn;
  $("signed-out").hidden = isIn;
  $("sign-out").hidden = !isIn;
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("new-key").hidden = true;
  $("new-key-value").textContent = "";
  signedIn(false);
}

async function signIn(email, password) {
  const body = await (await postJson("/api/auth/login", { email, password })).json();
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  signedIn(true);
  notify("");
  await refresh();
}

function wire() {
  const signInForm = $("sign-in-form");
  signInForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const { email, password } = Object.fromEntries(new FormData(signInForm));
    submitting(signInForm, () => signIn(email, password));
  });
  $("register").addEventListener("click", () => {
    if (!signInForm.reportValidity()) return;
    const { email, password } = Object.fromEntries(new FormData(signInForm));
    submitting(signInForm, async () => {
      await postJson("/api/auth/register", { email, password });
      await signIn(email, password);
      notify("Welcome! Your account is open.");
    });
  });
  $("sign-out").addEventListener("click", signOut);

  const keyForm = $("key-form");
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(keyForm, async () => {
      const body = await (await postJson("/api/keys", { name: keyForm.elements.name.value })).json();
      $("new-key-value").textContent = body.key;
      $("new-key").hidden = false;
      keyForm.reset();
      notify(`Key "${body.name}" created.`);
      await showKeys();
    });
  });
  $("copy-key").addEventListener("click", () => {
    navigator.clipboard.writeText($("new-key-value").textContent).then(
      () => notify("Key copied."),
      () => notify("Copy failed: select the key and copy it by hand.", true),
    );
  });

  const generateForm = $("generate-form");
  generateForm.elements.preset.addEventListener("change", () => {
    const chosen = presets.find((p) => p.name === generateForm.elements.preset.value);
    $("preset-description").textContent = chosen ? `${chosen.description} (overrides the fields below)` : "";
  });
  downloadOnSubmit(generateForm, "/api/generate", "generate", "page");
  downloadOnSubmit($("ai-form"), "/api/ai-image", "ai", "ai-image.png");

  $("more-statement").addEventListener("click", () => showStatement(false).catch((e) => notify(e.message, true)));
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  showPresets().catch(() => {});
  signedIn(Boolean(token()));
  if (token()) refresh().catch((error) => notify(error.message, true));
});
