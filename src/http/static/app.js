// The pages work without this script; it adds copy buttons, shows only the playground fields that
// the chosen mode uses, follows the link to Stripe's page, and keeps a reload from posting again. No inline code: the policy forbids it.
"use strict";

function copyFrom(button) {
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById("copy-status");
  if (!source) return;
  const text = source.value;
  const done = () => { if (status) status.textContent = "Copied."; button.focus(); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => { source.select(); if (status) status.textContent = "Selected: press Ctrl+C to copy."; });
  } else {
    source.select();
    document.execCommand("copy");
    done();
  }
}

function showFieldsFor(form, fieldsByMode) {
  const mode = form.querySelector("[name=mode]").value;
  const wanted = fieldsByMode[mode] || [];
  for (const field of form.querySelectorAll("[data-field]")) {
    const on = wanted.includes(field.dataset.field);
    field.hidden = !on;
    for (const input of field.querySelectorAll("input, select")) input.disabled = !on;
  }
}

function playground() {
  const form = document.getElementById("generate-form");
  const table = document.getElementById("fields-by-mode");
  if (!form || !table) return;
  const fieldsByMode = JSON.parse(table.dataset.modes);
  const mode = form.querySelector("[name=mode]");
  mode.addEventListener("change", () => showFieldsFor(form, fieldsByMode));
  for (const preset of form.querySelectorAll("input[name=preset]")) {
    preset.addEventListener("change", () => {
      if (preset.checked && preset.dataset.mode) {
        mode.value = preset.dataset.mode;
        showFieldsFor(form, fieldsByMode);
      }
    });
  }
  showFieldsFor(form, fieldsByMode);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => copyFrom(button));
  }
  playground();
  // A page that answered a post (a new key, a made page) becomes its plain address in the history,
  // so reloading it shows the page afresh instead of posting again (a second key, a second charge).
  const answered = document.querySelector("[data-replace-url]");
  if (answered) window.history.replaceState(null, "", answered.dataset.replaceUrl);
  const follow = document.querySelector("a[data-follow]");
  if (follow) window.location.assign(follow.href);
  const result = document.getElementById("result-heading");
  if (result) result.focus();
});
