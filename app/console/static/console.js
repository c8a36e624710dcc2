// The console's own script: confirmations, and the rules editor's round trips to the server.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf"]') || {}).content || "";

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});

function setupRulesEditor() {
  const form = document.getElementById("rules-form");
  const raw = document.getElementById("raw");
  if (!form || !raw) return;
  const general = document.getElementById("general-problems");
  let sequence = 0;

  function values() {
    const found = {};
    for (const el of form.querySelectorAll("[name]")) {
      found[el.name] = el.type === "checkbox" ? el.checked : el.value;
    }
    return found;
  }

  function showProblems(problems) {
    for (const el of form.querySelectorAll(".invalid")) el.classList.remove("invalid");
    for (const p of document.querySelectorAll(".field-error")) { p.hidden = true; p.textContent = ""; }
    raw.classList.remove("invalid");
    for (const [path, messages] of Object.entries(problems.fields || {})) {
      const input = form.querySelector(`[name="${CSS.escape(path)}"]`);
      const place = form.querySelector(`[data-for="${CSS.escape(path)}"]`)
        || form.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (input) input.classList.add("invalid");
      if (place && place.classList.contains("field-error")) {
        place.textContent = messages.join(" "); place.hidden = false;
      } else if (place) {
        const note = document.createElement("p");
        note.className = "error field-error"; note.dataset.for = path; note.textContent = messages.join(" ");
        place.prepend(note);
      }
    }
    general.textContent = (problems.general || []).join(" ");
    if ((problems.general || []).length) raw.classList.add("invalid");
    document.body.dataset.problems = String(
      Object.keys(problems.fields || {}).length + (problems.general || []).length);
  }

  async function roundTrip(body, replaceForm) {
    const mine = ++sequence;
    document.body.dataset.checking = "yes";
    const answer = await postJSON("/console/rules/draft", body);
    if (mine !== sequence) return;  // a newer edit is on its way
    if (answer.content !== raw.value) raw.value = answer.content;
    if (replaceForm && answer.form !== null) form.innerHTML = answer.form;
    showProblems(answer.problems);
    document.body.dataset.checking = "no";
  }

  form.addEventListener("input", debounce(() =>
    roundTrip({content: raw.value, values: values()}, false), 250));
  form.addEventListener("change", (event) => {
    const select = event.target.closest("[data-action-type]");
    if (select) roundTrip({content: raw.value, values: values(),
                           action: `type:${select.dataset.actionType}=${select.value}`}, true);
  });
  form.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (button) roundTrip({content: raw.value, values: values(), action: button.dataset.action}, true);
  });
  raw.addEventListener("input", debounce(() => roundTrip({content: raw.value}, true), 400));

  document.getElementById("simulate").addEventListener("click", async () => {
    const place = document.getElementById("simulation");
    place.innerHTML = "<p class='hint'>…</p>";
    place.innerHTML = (await postJSON("/console/rules/simulate", {content: raw.value})).html;
  });
  document.getElementById("impact").addEventListener("click", async () => {
    const place = document.getElementById("impact-result");
    place.innerHTML = "<p class='hint'>…</p>";
    place.innerHTML = (await postJSON("/console/rules/impact", {content: raw.value})).html;
  });
  const key = document.getElementById("idempotency-key");
  if (key && window.crypto && crypto.randomUUID) key.value = crypto.randomUUID();
  roundTrip({content: raw.value}, false);
}

document.addEventListener("DOMContentLoaded", setupRulesEditor);
