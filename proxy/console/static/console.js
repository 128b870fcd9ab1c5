// Drawbridge responder console. Every action is a call to the admin API with the session cookie and the
// CSRF token; the server audits it with the responder's identity. Text is only ever set as textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const MODES = ["block", "read-only", "no-egress", "monitor"];
const state = { tab: "sessions", upstreams: [], feed: [] };

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "drawbridge_csrf") return rest.join("=");
  }
  return "";
}

async function call(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    window.location.assign("/console/login");
    throw new Error("session ended: log in again");
  }
  return response;
}

async function api(method, path, body) {
  const response = await call(method, path, body);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error((data.error && data.error.message) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function flash(message, ok) {
  const box = $("flash");
  box.textContent = message;
  box.className = ok ? "ok" : "error";
}

function why() {
  const reason = $("reason").value.trim();
  if (!reason) {
    $("reason").focus();
    throw new Error("Give a reason first: every action is audited with it.");
  }
  const ticket = $("ticket").value.trim();
  return ticket ? { reason, ticket } : { reason };
}

async function act(label, method, path, body) {
  try {
    const data = await api(method, path, typeof body === "function" ? body() : body);
    flash(`${label}: done`, true);
    refresh();
    return data;
  } catch (error) {
    flash(`${label}: ${error.message}`, false);
    return null;
  }
}

const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "Z") : "");
const sevClass = (sev) => `sev sev-${String(sev || "none").toLowerCase()}`;

// ---- sessions -------------------------------------------------------------------------------------------
function sessionKey(s) { return `${s.upstream}:${s.client_key}`; }

function lastFindings(s) {
  if (s.last_findings) return s.last_findings;  // the latest decision's findings, from whichever replica decided it
  const hits = state.feed.filter((item) =>
    (item.session_id && item.session_id === s.session_id) || (item.client_key && item.client_key === s.client_key));
  return hits.slice(0, 3).map((item) => `${item.severity} ${item.detection}`).join(", ");
}

function subjectOf(s, kind) {
  if (kind === "principal") return s.principal;
  if (kind === "agent") return s.agent;
  return s.session_id || s.client_key;
}

function sessionActions(s) {
  const kind = el("select", { class: "kind", "aria-label": "subject" },
    ...["principal", "agent", "session"].map((k) => el("option", { value: k, text: k })));
  const mode = el("select", { class: "mode", "aria-label": "mode" }, ...MODES.map((m) => el("option", { value: m, text: m })));
  const tools = el("input", { class: "tools", type: "text", placeholder: "tool, tool*", "aria-label": "tools" });
  const target = () => ({ kind: kind.value, subject: subjectOf(s, kind.value) });
  return el("td", { class: "actions" }, kind, mode,
    el("button", { type: "button", class: "quarantine", text: "Quarantine",
      onclick: () => act("quarantine", "POST", "/v1/quarantines", () => ({ ...why(), ...target(), mode: mode.value })) }),
    el("button", { type: "button", class: "release", text: "Release",
      onclick: () => act("release", "POST", "/v1/quarantines/release", () => ({ ...why(), ...target() })) }),
    el("button", { type: "button", class: "kill", text: "Kill session",
      onclick: () => act("kill", "POST", "/v1/sessions/kill", () => ({ ...why(), session_id: s.session_id || s.client_key })) }),
    tools,
    el("button", { type: "button", class: "deny", text: "Deny tools",
      onclick: () => act("deny tools", "POST", "/v1/deny-tools", () => {
        const names = tools.value.split(",").map((t) => t.trim()).filter(Boolean);
        if (kind.value === "session") throw new Error("deny tools applies to a principal or an agent");
        return { ...why(), [kind.value]: target().subject, tools: names };
      }) }));
}

function sessionCells(s) {
  return [s.session_id || s.client_key, s.principal, s.agent || "", s.upstream, s.calls,
    `${s.bytes_in} / ${s.bytes_out}`, when(s.last_used), lastFindings(s)];
}

async function refreshSessions() {
  const [{ sessions }, feed] = await Promise.all([api("GET", "/v1/sessions"),
    api("GET", "/v1/alerts?limit=300").catch(() => ({ items: [] }))]);
  state.feed = feed.items || [];
  const body = $("sessions");
  const seen = new Set();
  for (const s of sessions) {
    const key = sessionKey(s);
    seen.add(key);
    let row = body.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
    if (!row) {
      row = el("tr", { data: { key, principal: s.principal, session: s.session_id || s.client_key } },
        ...sessionCells(s).map(() => el("td")), sessionActions(s));
      body.append(row);
    }
    sessionCells(s).forEach((value, i) => { row.children[i].textContent = String(value ?? ""); });
  }
  for (const row of [...body.children]) if (!seen.has(row.dataset.key)) row.remove();
  $("sessions-empty").hidden = sessions.length > 0;
}

// ---- alerts and findings --------------------------------------------------------------------------------
async function refreshAlerts() {
  const query = new URLSearchParams({ limit: "200" });
  for (const [name, id] of [["severity", "alert-severity"], ["detection", "alert-detection"], ["principal", "alert-principal"]]) {
    const value = $(id).value.trim();
    if (value) query.set(name, value);
  }
  const { items } = await api("GET", `/v1/alerts?${query}`);
  $("alerts").replaceChildren(...items.map((item) => el("tr", { data: { kind: item.kind, detection: item.detection } },
    el("td", { text: when(item.time) }), el("td", {}, el("span", { class: sevClass(item.severity), text: item.severity })),
    el("td", { text: item.kind }), el("td", { text: item.detection }), el("td", { text: item.atlas || "" }),
    el("td", { text: item.principal || "" }), el("td", { text: item.agent || "" }),
    el("td", { text: item.session_id || item.client_key || "" }), el("td", { text: item.tool || "" }),
    el("td", { text: item.verdict || "" }), el("td", { text: item.summary || "" }))));
  $("alerts-empty").hidden = items.length > 0;
}

// ---- approvals (a held call waits for a human) ----------------------------------------------------------
async function refreshApprovals() {
  let approvals = [];
  try {
    approvals = (await api("GET", "/v1/approvals")).approvals || [];
  } catch (error) {
    if (error.status !== 404) throw error;  // no approvals on this version: an empty queue
  }
  const pending = approvals.filter((a) => a.status === "pending");
  $("approval-count").textContent = pending.length ? String(pending.length) : "";
  const box = $("approvals");
  const ids = pending.map((a) => a.id).join(",");
  if (box.dataset.ids === ids) return;  // unchanged: keep the cards (and what is typed in them)
  box.dataset.ids = ids;
  box.replaceChildren(...pending.map((a) => {
    const decide = (verdict) => act(`${verdict} ${a.id}`, "POST", `/v1/approvals/${encodeURIComponent(a.id)}/${verdict}`,
      () => ({ reason: why().reason, arguments_sha256: a.arguments_sha256 }));
    return el("article", { class: "card approval", data: { id: a.id } },
      el("h3", { text: `${a.tool} on ${a.upstream}` }),
      el("p", { text: `${a.principal} / ${a.agent || "-"} · session ${a.session_id || "-"} · rule ${a.rule_id || "-"}` }),
      el("p", { text: `${a.reason || ""} · requested ${when(a.created)} · expires ${when(a.expires)}` }),
      el("pre", { class: "arguments", text: JSON.stringify(a.arguments, null, 2) }),
      el("p", { class: "digest", text: `arguments SHA-256 ${a.arguments_sha256}` }),
      el("button", { type: "button", class: "approve", text: "Approve", onclick: () => decide("approve") }),
      el("button", { type: "button", class: "deny danger", text: "Deny", onclick: () => decide("deny") }));
  }));
  $("approvals-empty").hidden = pending.length > 0;
}

// ---- pending tool-definition changes --------------------------------------------------------------------
async function refreshPins() {
  const cards = [];
  for (const upstream of state.upstreams) {
    const { pending } = await api("GET", `/v1/pins/${encodeURIComponent(upstream)}/pending`);
    for (const [tool, change] of Object.entries(pending || {})) cards.push({ upstream, tool, change });
  }
  $("pin-count").textContent = cards.length ? String(cards.length) : "";
  const box = $("pins");
  const ids = cards.map((c) => `${c.upstream}/${c.tool}@${c.change.sha256}`).join(",");
  if (box.dataset.ids === ids) return;
  box.dataset.ids = ids;
  box.replaceChildren(...cards.map(({ upstream, tool, change }) => {
    const findings = change.findings || [];
    const allow = el("input", { type: "checkbox", class: "allow-findings" });
    const path = (verb) => `/v1/pins/${encodeURIComponent(upstream)}/${verb}`;
    return el("article", { class: "card pin", data: { upstream, tool } },
      el("h3", { text: `${tool} on ${upstream}: ${change.kind || "changed"}` }),
      el("p", { class: "digest", text: `definition SHA-256 ${change.sha256}` }),
      el("pre", { class: "diff", text: change.diff_text || "" }),
      findings.length ? el("ul", { class: "findings" }, ...findings.map((f) =>
        el("li", { text: `${f.severity} ${f.detector}: ${f.message}` }))) : null,
      findings.length ? el("label", {}, allow, " approve despite the findings") : null,
      el("button", { type: "button", class: "approve", text: "Approve",
        onclick: () => act(`approve ${tool}`, "POST", path("approve"), () => ({ ...why(),
          tools: [`${tool}@${String(change.sha256).slice(0, 16)}`], allow_findings: allow.checked })) }),
      el("button", { type: "button", class: "reject danger", text: "Reject",
        onclick: () => act(`reject ${tool}`, "POST", path("reject"), () => ({ ...why(), tools: [tool] })) }));
  }));
  $("pins-empty").hidden = cards.length > 0;
}

// ---- timeline and evidence bundle -----------------------------------------------------------------------
function timelineSubject() {
  const subject = $("tl-subject").value.trim();
  if (!subject) throw new Error("name a principal, agent or session");
  const out = { [$("tl-kind").value]: subject };
  const since = $("tl-since").value.trim();
  if (since) out.since = since;
  return out;
}

async function showTimeline() {
  try {
    const doc = await api("GET", `/v1/incident/timeline?${new URLSearchParams(timelineSubject())}`);
    const secs = (s) => (s === null || s === undefined ? "" : ` (${Math.round(s)} s)`);
    $("tl-summary").replaceChildren(
      el("li", { text: `first malicious action: ${when(doc.first_malicious_at) || "none"}` }),
      el("li", { text: `detected: ${when(doc.detected_at) || "none"}${secs(doc.mttd_seconds)}` }),
      el("li", { text: `contained: ${when(doc.contained_at) || "none"}${secs(doc.mttc_seconds)}` }),
      el("li", { text: `${doc.events.length} events; principals ${doc.principals.join(", ") || "-"}; agents ${doc.agents.join(", ") || "-"}` }));
    $("timeline").replaceChildren(...doc.events.map((e) => el("tr", { class: e.milestones.length ? "milestone" : "" },
      el("td", { text: when(e.time) }), el("td", { text: e.phase }), el("td", { text: e.kind }),
      el("td", { text: e.action ? `${e.actor || "-"} on ${e.kind_of_subject || "-"} ${e.subject || "-"}` : [e.principal, e.agent].filter(Boolean).join("/") }),
      el("td", { text: [e.action || e.detection || e.method, e.tool, e.mode && `mode ${e.mode}`, e.summary].filter(Boolean).join(" ") }),
      el("td", { text: e.verdict || "" }),
      el("td", { text: [...new Set(e.findings.map((f) => `${f.severity} ${f.detector}`))].join(", ") }))));
    flash(`timeline: ${doc.events.length} events`, true);
  } catch (error) {
    flash(`timeline: ${error.message}`, false);
  }
}

async function exportBundle() {
  try {
    const response = await call("POST", "/v1/incident/export", timelineSubject());
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new Error((data.error && data.error.message) || `HTTP ${response.status}`);
    }
    const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name ? name[1] : "incident.tar.gz" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    flash(`exported ${name ? name[1] : "bundle"} (SHA-256 ${response.headers.get("x-drawbridge-bundle-sha256")})`, true);
  } catch (error) {
    flash(`export: ${error.message}`, false);
  }
}

// ---- tabs, polling, start -------------------------------------------------------------------------------
const REFRESH = { sessions: refreshSessions, alerts: refreshAlerts, approvals: refreshApprovals, pins: refreshPins };

function show(tab) {
  state.tab = REFRESH[tab] || tab === "timeline" ? tab : "sessions";
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== `tab-${state.tab}`;
  for (const button of document.querySelectorAll(".tab-button")) button.classList.toggle("active", button.dataset.tab === state.tab);
  if (window.location.hash !== `#${state.tab}`) window.history.replaceState(null, "", `#${state.tab}`);
  refresh();
}

let running = false;
async function refresh() {
  if (running) return;
  running = true;
  try {
    const work = [refreshApprovals()];
    if (state.tab !== "approvals" && REFRESH[state.tab]) work.push(REFRESH[state.tab]());
    await Promise.all(work);
    document.body.dataset.refreshed = String(Date.now());
  } catch (error) {
    flash(error.message, false);
  } finally {
    running = false;
  }
}

async function start() {
  const me = await api("GET", "/console/session");
  $("actor").textContent = me.actor;
  state.upstreams = me.upstreams || [];
  for (const button of document.querySelectorAll(".tab-button")) button.addEventListener("click", () => show(button.dataset.tab));
  $("logout").addEventListener("click", async () => {
    await call("POST", "/console/logout").catch(() => null);
    window.location.assign("/console/login");
  });
  $("alert-filters").addEventListener("input", () => refresh());
  $("alert-filters").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  $("timeline-form").addEventListener("submit", (event) => { event.preventDefault(); showTimeline(); });
  $("tl-export").addEventListener("click", exportBundle);
  show(window.location.hash.slice(1) || "sessions");
  setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => start().catch((error) => flash(error.message, false)));
