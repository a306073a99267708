// Cairn's web console: one page that reads and drives the admin API, as `cairn` on a shell does.
// Everything a device or an administrator wrote reaches the page through textContent, never as
// HTML (a device may name itself "<img onerror=…>"); the server's Content-Security-Policy allows
// this file's script only. The API key lives in sessionStorage: gone when the tab closes.
"use strict";

const keyStore = "cairn.apiKey";
const main = document.getElementById("main");

// el("td", {class: "mono"}, "text", childNode, …): an element with attributes and children.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function text(value) {
  if (value === null || value === undefined || value === "") return "–";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function link(href, label) {
  return el("a", {href}, label);
}

// `node`'s content replaced by `children` (the nulls of optional parts left out).
function fill(node, ...children) {
  node.replaceChildren(...children.filter(child => child !== null && child !== undefined));
}

function show(...nodes) {
  fill(main, ...nodes);
}

// A table: columns as [header, row => cell content].
function table(rows, columns, attrs) {
  return el("table", attrs,
    el("thead", null, el("tr", null, columns.map(([header]) => el("th", null, header)))),
    el("tbody", null, rows.map(row => el("tr", null,
      columns.map(([, cell]) => el("td", null, cell(row)))))));
}

function badge(value) {
  return el("span", {class: "badge " + String(value)}, text(value));
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The page being rendered: a newer one aborts the older one's requests, so a slow answer for a
// page left behind never draws over the page shown now.
let rendering = new AbortController();

async function api(method, path, body) {
  const key = sessionStorage.getItem(keyStore);
  const response = await fetch(path, {
    method,
    headers: Object.assign({Authorization: "Basic " + btoa("console:" + key)},
                           body === undefined ? {} : {"Content-Type": "application/json"}),
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
    signal: rendering.signal,
  });
  const raw = await response.text();
  let answer = null;
  try { answer = raw ? JSON.parse(raw) : null; } catch (e) { answer = null; }
  if (response.status === 401) {
    sessionStorage.removeItem(keyStore);
    throw new ApiError(401, "the API key was refused: log in again");
  }
  if (!response.ok && response.status !== 207) {
    throw new ApiError(response.status, (answer && answer.error) || raw || response.statusText);
  }
  return answer;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) q.append(name, value);
  const s = q.toString();
  return s ? "?" + s : "";
}

// "#/device/ABC?x=1" → {page: "device", arg: "ABC", params: URLSearchParams}
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search] = hash.split("?");
  const [page, ...rest] = path.split("/");
  return {page: page || "devices", arg: decodeURIComponent(rest.join("/")),
          params: new URLSearchParams(search || "")};
}

function failure(error) {
  return el("p", {class: "error", id: "failure"}, error.message || String(error));
}

// ---- login ---------------------------------------------------------------------------------

function loginPage(message) {
  document.getElementById("nav").hidden = true;
  const input = el("input", {type: "password", id: "api-key", autocomplete: "off",
                             placeholder: "an API key (cairn apikey create)"});
  const status = el("p", {id: "login-status", class: "error"}, message || "");
  const form = el("form", {id: "login", onsubmit: async event => {
    event.preventDefault();
    sessionStorage.setItem(keyStore, input.value.trim());
    try {
      await api("GET", "/v1/devices?limit=1");
      if (location.hash === "#/devices") render();
      else location.hash = "#/devices";  // renders on hashchange
    } catch (error) {
      sessionStorage.removeItem(keyStore);  // a metrics key, say: it cannot read the fleet
      status.textContent = error.message;
    }
  }}, el("label", null, "API key", input), el("button", {type: "submit"}, "Log in"), status);
  show(el("div", {class: "login"}, el("h1", null, "Cairn console"), form));
  input.focus();
}

// ---- devices -------------------------------------------------------------------------------

const deviceFilters = [
  ["serial", "Serial"], ["os_version", "OS version"], ["model", "Model"],
  ["passcode_compliant", "Passcode compliant"], ["app", "App (bundle ID)"],
  ["profile", "Profile (identifier)"],
];

async function devicesPage(params) {
  const inputs = deviceFilters.map(([name, label]) =>
    el("label", null, label, el("input", {name, value: params.get(name) || "", size: 14})));
  const other = el("input", {name: "filter", size: 28, value: params.get("filter") || "",
                             placeholder: "status.passcode.is-compliant=false"});
  const form = el("form", {class: "filters", id: "filters", onsubmit: event => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const input of form.querySelectorAll("input")) if (input.value) next.set(input.name, input.value);
    location.hash = "#/devices?" + next.toString();
  }}, inputs, el("label", null, "Other filter (name=value)", other),
      el("button", {type: "submit"}, "Filter"));
  show(el("h1", null, "Devices"), form, el("p", {class: "muted"}, "Loading…"));

  const filters = {};
  for (const [name] of deviceFilters) if (params.get(name)) filters[name] = params.get(name);
  const extra = params.get("filter");
  if (extra && extra.includes("=")) filters[extra.slice(0, extra.indexOf("="))] = extra.slice(extra.indexOf("=") + 1);
  const filtered = Object.keys(filters).length > 0;
  const page = await api("GET", (filtered ? "/api/v1/devices" : "/v1/devices") +
                         query(Object.assign({limit: "100", after: params.get("after")}, filters)));
  const rows = page.devices || [];
  const next = page.next_after;
  const more = new URLSearchParams(params);
  if (next) more.set("after", next);
  show(el("h1", null, "Devices"), form,
    el("p", {class: "muted", id: "device-count"}, rows.length + " devices on this page" +
       (filtered ? " matching " + Object.entries(filters).map(([k, v]) => k + "=" + v).join(", ") : "")),
    table(rows, [
      ["UDID", d => link("#/device/" + encodeURIComponent(d.udid), d.udid)],
      ["Serial", d => text(d.serial_number)],
      ["State", d => badge(d.enrollment_state)],
      ["Last seen", d => text(d.last_seen)],
      ["Pushable", d => d.pushable ? "yes" : "no"],
      ["Inactive since", d => text(d.inactive_since)],
    ], {id: "devices"}),
    next ? el("p", null, link("#/devices?" + more.toString(), "Next page →")) : null);
}

function summary(pairs) {
  return el("dl", {class: "summary"}, pairs.flatMap(([name, value]) =>
    [el("dt", null, name), el("dd", null, value instanceof Node ? value : text(value))]));
}

async function devicePage(udid) {
  const base = "/api/v1/devices/" + encodeURIComponent(udid);
  const [device, commands, events] = await Promise.all([
    api("GET", base), api("GET", "/v1/devices/" + encodeURIComponent(udid) + "/commands"),
    api("GET", "/v1/devices/" + encodeURIComponent(udid) + "/events?limit=200")]);
  const inventory = Object.entries(device.inventory || {}).map(([field, v]) => ({field, ...v}));
  const statusItems = Object.entries(device.status_items || {}).map(([item, v]) => ({item, ...v}));
  const pushed = el("span", {id: "push-status"});
  const commandColumns = [
    ["Command", c => link("#/command/" + encodeURIComponent(c.command_uuid), c.command_uuid)],
    ["Request type", c => text(c.request_type)],
    ["Status", c => badge(c.status)],
    ["Enqueued", c => text(c.enqueued_at)],
    ["By", c => text(c.actor)],
    ["Deliveries", c => text(c.deliveries)],
  ];
  show(el("h1", null, "Device ", el("span", {class: "mono", id: "device-udid"}, device.udid)),
    el("div", {class: "actions"},
      el("a", {href: "#/send?devices=" + encodeURIComponent(udid)}, el("button", {type: "button"}, "Send a command")),
      el("button", {type: "button", class: "secondary", id: "push", onclick: async () => {
        try {
          await api("GET", "/v1/push/" + encodeURIComponent(udid));
          pushed.textContent = "push requested";
          pushed.className = "ok";
        } catch (error) {
          pushed.textContent = error.message;
          pushed.className = "error";
        }
      }}, "Push now"), pushed),
    summary([
      ["Serial", device.serial_number], ["State", badge(device.enrollment_state)],
      ["Topic", device.topic], ["Enrolled at", device.enrolled_at], ["Last seen", device.last_seen],
      ["Pushable", device.pushable ? "yes" : "no"], ["Enrollments", device.enrollments],
      ["Identity", device.identity_source], ["Access rights", device.access_rights],
      ["Inactive since", device.inactive_since],
    ]),
    el("h2", null, "Inventory"),
    table(inventory, [
      ["Field", r => el("span", {class: "mono"}, r.field)],
      ["Value", r => text(r.value)],
      ["Updated", r => text(r.updated_at)],
    ], {id: "inventory"}),
    statusItems.length ? el("h2", null, "Declarative status") : null,
    statusItems.length ? table(statusItems, [
      ["Item", r => el("span", {class: "mono"}, r.item)], ["Value", r => text(r.value)],
      ["Updated", r => text(r.updated_at)]], {id: "status-items"}) : null,
    el("h2", null, "Queue"),
    table(commands.queue || [], commandColumns, {id: "queue"}),
    el("h2", null, "Finished commands"),
    table(commands.finished || [], commandColumns, {id: "finished"}),
    el("h2", null, "Timeline"),
    table(events.events || [], [
      ["Time", e => text(e.time)],
      ["Event", e => text(e.type)],
      ["By", e => text(e.event && e.event.actor)],
      ["Command", e => text(e.event && e.event.payload && e.event.payload.command_uuid)],
      ["Position", e => e.partition + "/" + e.offset],
    ], {id: "timeline"}),
    events.next_after ? el("p", {class: "muted"}, "The first 200 events; cairn devices events shows them all.") : null);
}

// ---- commands ------------------------------------------------------------------------------

const commandStates = ["pending", "delivered", "not_now", "acknowledged", "error",
                       "command_format_error", "cancelled"];

async function commandsPage(params) {
  const status = params.get("status") || "pending";
  const select = el("select", {name: "status", onchange: () => {
    location.hash = "#/commands?status=" + select.value;
  }}, commandStates.map(s => el("option", s === status ? {value: s, selected: ""} : {value: s}, s)));
  const page = await api("GET", "/v1/commands" + query({status, limit: "100", after: params.get("after")}));
  const more = new URLSearchParams({status});
  if (page.next_after) more.set("after", page.next_after);
  show(el("h1", null, "Commands"), el("form", {class: "filters"}, el("label", null, "Status", select)),
    table(page.commands || [], [
      ["Command", c => link("#/command/" + encodeURIComponent(c.command_uuid), c.command_uuid)],
      ["Device", c => link("#/device/" + encodeURIComponent(c.udid), c.udid)],
      ["Request type", c => text(c.request_type)],
      ["Status", c => badge(c.status)],
      ["Enqueued", c => text(c.enqueued_at)],
      ["By", c => text(c.actor)],
    ], {id: "commands"}),
    page.next_after ? el("p", null, link("#/commands?" + more.toString(), "Next page →")) : null);
}

async function commandPage(uuid) {
  const path = "/v1/commands/" + encodeURIComponent(uuid);
  const status = await api("GET", path);
  const outcome = el("p", {id: "cancel-outcome"});
  const queued = (status.devices || []).some(d => ["pending", "delivered", "not_now"].includes(d.status));
  show(el("h1", null, "Command ", el("span", {class: "mono"}, uuid)),
    queued ? el("div", {class: "actions"}, el("button", {type: "button", id: "cancel", onclick: async () => {
      try {
        const answer = await api("POST", path + "/cancel");
        outcome.className = "ok";
        outcome.textContent = "cancelled on " + answer.cancelled + " device(s)";
        setTimeout(render, 600);
      } catch (error) {
        outcome.className = "error";
        outcome.textContent = error.message;
      }
    }}, "Cancel where still queued"), outcome) : null,
    table(status.devices || [], [
      ["Device", c => link("#/device/" + encodeURIComponent(c.udid), c.udid)],
      ["Request type", c => text(c.request_type)],
      ["Status", c => badge(c.status)],
      ["Deliveries", c => text(c.deliveries)],
      ["Finished", c => text(c.finished_at)],
      ["Error", c => text(c.error_chain && c.error_chain.map(e => e.domain + " " + e.code + ": " + e.description).join("; "))],
    ], {id: "command-devices"}));
}

// The typed catalog's fields as inputs: a checkbox for a boolean, a list for listed values, a
// number for numbers, JSON for arrays and dictionaries, text for the rest.
function fieldInput(key) {
  const attrs = {name: key.name, "data-type": key.type};
  if (key.type === "boolean") {
    return el("select", attrs, el("option", {value: ""}, "(not set)"),
              el("option", {value: "true"}, "true"), el("option", {value: "false"}, "false"));
  }
  if (key.range && key.range.length) {
    return el("select", attrs, el("option", {value: ""}, "(not set)"),
              key.range.map(v => el("option", {value: v}, v)));
  }
  if (key.type === "array" || key.type === "dictionary" || key.type === "any") {
    return el("textarea", Object.assign(attrs, {placeholder: key.type === "array" ? "[…] (JSON)" : "{…} (JSON)"}));
  }
  if (key.type === "integer" || key.type === "real") {
    return el("input", Object.assign(attrs, {type: "number", step: key.type === "real" ? "any" : "1"}));
  }
  return el("input", Object.assign(attrs, {type: "text", size: 40,
    placeholder: key.type === "data" ? "base64" : key.type === "date" ? "2026-01-31T12:00:00Z" : ""}));
}

function fieldValue(input) {
  const value = input.value.trim();
  switch (input.dataset.type) {
    case "boolean": return value === "true";
    case "integer": return parseInt(value, 10);
    case "real": return parseFloat(value);
    case "array": case "dictionary": case "any": return JSON.parse(value);
    default: return value;
  }
}

let catalogCache = null;

async function sendPage(params) {
  catalogCache = catalogCache || await api("GET", "/api/v1/catalog");
  const commands = catalogCache.commands.slice().sort((a, b) => a.request_type.localeCompare(b.request_type));
  const chosen = params.get("type") || "DeviceInformation";
  const spec = commands.find(c => c.request_type === chosen) || commands[0];
  const devices = el("input", {name: "devices", id: "send-devices", size: 60,
                               value: params.get("devices") || "", placeholder: "UDID, UDID, …"});
  const type = el("select", {id: "request-type", onchange: () => {
    const next = new URLSearchParams(params);
    next.set("type", type.value);
    next.set("devices", devices.value);
    location.hash = "#/send?" + next.toString();
  }}, commands.map(c => el("option", c.request_type === spec.request_type
                                    ? {value: c.request_type, selected: ""} : {value: c.request_type},
                             c.request_type)));
  const fields = (spec.keys || []).map(key => el("label", null,
    key.name + " (" + key.type + (key.required ? ", required" : "") + ")", fieldInput(key)));
  const outcome = el("div", {id: "send-outcome"});
  const form = el("form", {class: "command", id: "send", onsubmit: async event => {
    event.preventDefault();
    const body = {request_type: spec.request_type,
                  devices: devices.value.split(/[\s,]+/).filter(Boolean)};
    try {
      for (const input of form.querySelectorAll("[data-type]")) {
        if (input.value.trim() !== "") body[input.name] = fieldValue(input);
      }
    } catch (error) {
      fill(outcome, el("p", {class: "error"}, "a field is not valid JSON: " + error.message));
      return;
    }
    try {
      const answer = await api("POST", "/api/v1/commands", body);
      const refused = Object.entries(answer.refused || {});
      fill(outcome, 
        el("p", {class: "ok"}, "queued on " + answer.queued + " device(s): ",
           link("#/command/" + encodeURIComponent(answer.command_uuid), answer.command_uuid)),
        refused.length ? table(refused, [["Refused", r => r[0]], ["Why", r => r[1]]]) : null);
    } catch (error) {
      fill(outcome, failure(error));
    }
  }}, el("label", null, "Devices", devices), el("label", null, "Request type", type),
      el("p", {class: "muted"}, text(spec.title) + (spec.access_right ? " — needs access right " + spec.access_right : "")),
      fields, el("button", {type: "submit"}, "Send"), outcome);
  show(el("h1", null, "Send a command"), form);
}

// ---- certificates --------------------------------------------------------------------------

async function certificatesPage() {
  const [push, fleet] = await Promise.all([api("GET", "/v1/pushcerts"),
                                           api("GET", "/v1/certificates?within_days=30")]);
  const daysLeft = (days, soon) => soon ? el("span", {class: "badge expiring"}, text(days)) : text(days);
  const expiry = (rows, id) => table(rows || [], [
    ["Role", c => text(c.role)],
    ["Subject", c => text(c.subject)],
    ["Expires", c => text(c.not_after)],
    ["Days left", c => daysLeft(c.days_left, c.days_left < 30)],
  ], {id});
  show(el("h1", null, "Certificates"),
    el("h2", null, "APNs push certificates"),
    table(push.push_certificates || [], [
      ["Topic", c => el("span", {class: "mono"}, c.topic)],
      ["Expires", c => text(c.not_after)],
      ["Days left", c => daysLeft(c.days_left, c.expiring_soon)],
      ["Uploaded", c => text(c.uploaded_at)],
      ["By", c => text(c.uploaded_by)],
    ], {id: "push-certificates"}),
    el("h2", null, "The server's certificates"), expiry(fleet.server, "server-certificates"),
    el("h2", null, "Push certificates in use"), expiry(fleet.push, "push-in-use"),
    el("h2", null, "Device identities expiring within " + fleet.within_days + " days"),
    expiry(fleet.device_identities_expiring, "identities-expiring"));
}

// ---- the page ------------------------------------------------------------------------------

async function render() {
  rendering.abort();
  rendering = new AbortController();
  const signal = rendering.signal;
  if (!sessionStorage.getItem(keyStore)) return loginPage();
  document.getElementById("nav").hidden = false;
  const {page, arg, params} = route();
  const pages = {
    devices: () => devicesPage(params), device: () => devicePage(arg),
    commands: () => commandsPage(params), command: () => commandPage(arg),
    send: () => sendPage(params), certificates: () => certificatesPage(),
  };
  try {
    await (pages[page] || pages.devices)();
    if (!signal.aborted) document.body.dataset.loaded = location.hash;
  } catch (error) {
    if (signal.aborted) return;  // a newer page took over
    if (error.status === 401) return loginPage(error.message);
    show(failure(error));
    document.body.dataset.loaded = location.hash;
  }
}

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem(keyStore);
  location.hash = "";
  loginPage();
});
window.addEventListener("hashchange", render);
render();
