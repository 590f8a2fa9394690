// helios-emulator front panel: plain JavaScript, no build step, no library.
// It talks only to the control plane (/_emulator/...): never to /api, so it needs no password and
// shows none. With --control-token it asks for the token once per tab and sends it as a header
// (which is why the camera and the live stream are read with fetch(), not <img src> or EventSource).
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 300; // events and journal entries kept on the page
const ui = {
  token: sessionStorage.getItem("helios-token") || "",
  device: null,
  built: false,
  eventTypes: new Set(),
  lastSeq: 0,
  tamper: false,
};

// ---------------------------------------------------------------------------------------------
// talking to the control plane

let tokenAsked = null;

function askToken() {
  if (!tokenAsked) {
    tokenAsked = new Promise((resolve) => {
      const dialog = $("token-dialog");
      dialog.addEventListener("close", () => {
        ui.token = $("token").value.trim();
        sessionStorage.setItem("helios-token", ui.token);
        tokenAsked = null;
        resolve();
      }, { once: true });
      dialog.showModal();
    });
  }
  return tokenAsked;
}

async function request(path, options = {}) {
  for (;;) {
    const headers = Object.assign({}, options.headers);
    if (ui.token) headers.Authorization = "Bearer " + ui.token;
    const resp = await fetch(path, Object.assign({}, options, { headers }));
    if (resp.status !== 401) return resp;
    await askToken();
  }
}

async function call(method, path, body) {
  const options = { method };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers = { "Content-Type": "application/json" };
  }
  const resp = await request(path, options);
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (!resp.ok) throw new Error((data && data.error) || `${resp.status} ${resp.statusText}`);
  return data;
}

function debounce(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

function duration(seconds) {
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24, m = Math.floor(seconds / 60) % 60;
  const s = Math.floor(seconds % 60);
  return (d ? `${d} d ` : "") + (h || d ? `${h} h ` : "") + (m || h || d ? `${m} min ` : "") + `${s} s`;
}

function say(text, bad = false) {
  const result = $("result");
  result.textContent = text;
  result.classList.toggle("bad", bad);
}

async function act(name, params = {}, describe = null) {
  try {
    const reply = await call("POST", `/_emulator/actions/${name}`, params);
    say(describe ? describe(reply.result) : `${name}: done`);
    refreshDevice();
    return reply.result;
  } catch (err) {
    say(`${name}: ${err.message}`, true);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// the device

async function loadDevice() {
  try {
    const device = await call("GET", "/_emulator/device");
    ui.device = device;
    if (!ui.built) build(device);
    render(device);
  } catch (err) {
    $("online").textContent = "unreachable";
    $("online").className = "badge offline";
  }
}
const refreshDevice = debounce(loadDevice, 120);

function build(d) {
  // What depends only on the model: built once.
  ui.built = true;
  document.title = `${d.name} · helios-emulator`;
  const buttons = $("call-buttons");
  for (let n = 1; n <= Math.min(d.hardware.buttons, 8); n++) {
    buttons.append(el("button", { class: "bell", "data-testid": `button-${n}`,
      onclick: () => act("press", { key: `%${n}` }, () => `call button ${n} pressed`) }, `Call button ${n}`));
  }
  $("keypad-box").hidden = !d.hardware.keypad;
  for (const key of "123456789*0#") {
    $("keypad").append(el("button", { type: "button", "data-testid": `key-${key}`,
      onclick: () => act("press", { key }, () => `key ${key}`) }, key));
  }
  $("card-form").hidden = !d.hardware.cardReader;
  $("display-card").hidden = !d.hardware.display;
  const camera = d.hardware.camera;
  if (camera) {
    const select = $("camera-resolution");
    for (const size of camera.resolutions) select.append(el("option", { value: size }, size.replace("x", " × ")));
    select.value = camera.resolutions.includes("640x480") ? "640x480" : camera.resolutions[0];
    $("camera-note").hidden = true;
    startCamera();
  } else {
    $("camera-resolution").disabled = $("camera-fps").disabled = true;
  }
}

function render(d) {
  $("device-name").textContent = d.name;
  $("device-line").textContent = `${d.model} · firmware ${d.firmware} · profile ${d.profile}`;
  const online = $("online");
  online.textContent = d.online ? "online" : "restarting";
  online.className = "badge " + (d.online ? "online" : "offline");
  $("uptime").textContent = d.online ? duration(d.uptime) : "–";
  $("clock-box").hidden = !d.clock.virtual;
  $("clock-time").textContent = clock(d.time);

  const facts = [
    ["Model", d.model], ["Name", d.name], ["Firmware", d.firmware], ["Serial", d.serialNumber],
    ["Hardware", d.hwVersion], ["MAC", d.macAddr],
    ["Listens on", Object.values(d.listeners).map((url) => el("div", {}, url))],
    ["Licences", d.licences.join(", ") || "none"], ["Subscriptions", String(d.channels)],
  ];
  $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("services").replaceChildren(...d.services.map((s) => el("tr", {},
    el("td", {}, s.service),
    el("td", {}, el("span", { class: "auth " + (s.enabled ? s.auth : "disabled") }, s.enabled ? s.auth : "disabled")),
    el("td", { class: "muted" }, s.transport === "https" ? "HTTPS only" : "HTTP or HTTPS"))));
  $("accounts").replaceChildren(...(d.accounts.length ? d.accounts.map((a) => el("li", {}, el("b", {}, a.name), " ",
    el("span", { class: "muted" }, a.privileges.length === 13 ? "every privilege" : a.privileges.join(", "))))
    : [el("li", { class: "muted" }, "none")]));

  renderToggles(d);
  $("switches").replaceChildren(...d.switches.map((s) => el("span", {
    class: "lamp" + (s.active ? " on" : ""), "data-testid": `switch-${s.switch}`, "data-on": String(s.active),
    title: s.enabled ? "" : "disabled" },
  el("i"), `Switch ${s.switch}`, el("small", {}, s.mode === "monostable" ? `${s.duration} s` : "bistable"),
  s.locked && el("span", { class: "tag" }, "locked"), s.held && el("span", { class: "tag" }, "held"))));
  $("ports").replaceChildren(...d.ports.map((p) => {
    const input = p.type === "input";
    return el("span", {
      class: "lamp" + (p.state ? " on" : "") + (input ? " input" : ""), "data-testid": `port-${p.port}`,
      "data-on": String(p.state), title: input ? "click to toggle" : "driven by a switch or io/ctrl",
      onclick: input ? () => act("input", { port: p.port, state: !p.state }, () => `${p.port} ${p.state ? "off" : "on"}`)
        : null },
    el("i"), p.port, el("small", {}, p.type));
  }));
  renderCalls(d.calls);
  if (d.hardware.display) loadDisplay();
}

function renderToggles(d) {
  const toggles = [];
  const port = (name) => d.ports.find((p) => p.port === name);
  const toggle = (label, on, testid, run) => el("button", {
    type: "button", class: "toggle" + (on ? " on" : ""), "data-testid": testid, "data-on": String(on), onclick: run }, label);
  if (d.hardware.door) {
    const open = port(d.hardware.door).state;
    toggles.push(toggle(open ? "Door open" : "Door closed", open, "door",
      () => act("door", { open: !open }, () => (open ? "door closed" : "door opened"))));
  }
  if (d.hardware.tamper) {
    const on = port("tamper") ? port("tamper").state : ui.tamper;
    toggles.push(toggle("Tamper", on, "tamper", async () => {
      if (await act("tamper", { active: !on }, () => (on ? "housing closed" : "housing opened")) !== null) ui.tamper = !on;
    }));
  }
  if (d.hardware.camera) {
    toggles.push(toggle("Motion", d.motion, "motion",
      () => act("motion", { active: !d.motion }, () => (d.motion ? "motion ends" : "motion"))));
  }
  if (d.hardware.microphone) {
    toggles.push(toggle("Noise", d.noise, "noise",
      () => act("noise", { active: !d.noise }, () => (d.noise ? "quiet" : "noise"))));
  }
  $("toggles").replaceChildren(...toggles);
}

function renderCalls(calls) {
  $("no-calls").hidden = calls.length > 0;
  $("calls").replaceChildren(...calls.map((c) => {
    const incoming = c.direction === "incoming";
    const answerable = incoming ? c.state === "ringing" : c.state === "connecting" || c.state === "ringing";
    return el("li", { class: "call", "data-testid": `call-${c.session}` },
      el("span", { class: "state " + c.state }, c.state),
      el("span", { class: "who" }, incoming ? "from " : "to ", el("b", {}, c.peer),
        el("span", { class: "muted" }, ` · session ${c.session}`)),
      el("span", { class: "actions" }, answerable && el("button", { "data-testid": `answer-${c.session}`,
        title: incoming ? "the intercom answers" : "the called peer answers",
        onclick: () => act(incoming ? "intercom-answers" : "peer-answers", { session: c.session },
          () => `call ${c.session} answered`) }, "Answer"),
      el("button", { class: "danger", "data-testid": `hangup-${c.session}`, title: "the peer hangs up",
        onclick: () => act("peer-hangs-up", { session: c.session }, () => `call ${c.session} hung up`) }, "Hang up")));
  }));
}

let displayShown = null;
async function loadDisplay() {
  const resp = await request("/_emulator/display");
  if (resp.status === 204 || !resp.ok) {
    $("display").removeAttribute("src");
    $("display-note").hidden = false;
    return;
  }
  const blob = await resp.blob();
  if (displayShown) URL.revokeObjectURL(displayShown);
  displayShown = URL.createObjectURL(blob);
  $("display").src = displayShown;
  $("display-note").hidden = true;
}

// ---------------------------------------------------------------------------------------------
// the camera: MJPEG read with fetch (it carries the token), one object URL per frame

let cameraRun = null;

function startCamera() {
  if (cameraRun) cameraRun.abort();
  const run = cameraRun = new AbortController();
  const [width, height] = $("camera-resolution").value.split("x");
  $("camera-size").textContent = `${width} × ${height}`;
  const url = `/_emulator/camera?width=${width}&height=${height}&fps=${$("camera-fps").value}`;
  (async () => {
    while (!run.signal.aborted) {
      try {
        await mjpeg(url, run.signal);
      } catch (err) { /* the device restarted, or we aborted */ }
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  })();
}

const CRLF2 = [13, 10, 13, 10];

function find(buffer, pattern, from = 0) {
  outer: for (let i = from; i <= buffer.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (buffer[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

async function mjpeg(url, signal) {
  const resp = await request(url, { signal });
  if (!resp.ok) throw new Error(String(resp.status));
  const reader = resp.body.getReader();
  const text = new TextDecoder();
  let buffer = new Uint8Array(0);
  let shown = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    for (;;) {
      const end = find(buffer, CRLF2);
      if (end < 0) break;
      const length = /content-length:\s*(\d+)/i.exec(text.decode(buffer.subarray(0, end)));
      const start = end + 4;
      if (!length) { buffer = buffer.slice(start); continue; }
      if (buffer.length < start + Number(length[1])) break;
      const frame = new Blob([buffer.slice(start, start + Number(length[1]))], { type: "image/jpeg" });
      buffer = buffer.slice(start + Number(length[1]));
      const previous = shown;
      shown = URL.createObjectURL(frame);
      $("camera").src = shown;
      if (previous) URL.revokeObjectURL(previous);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// what happens: the live stream (Server-Sent Events, read with fetch)

const STATE_EVENTS = new Set(["SwitchStateChanged", "OutputChanged", "InputChanged", "CallStateChanged",
  "RegistrationStateChanged", "MotionDetected", "NoiseDetected", "DeviceState", "TamperSwitchActivated",
  "DoorStateChanged", "ConfigurationChanged"]);

async function live() {
  for (;;) {
    try {
      const history = $("events").children.length ? 0 : 100; // the recent past, on the first connection
      const resp = await request(`/_emulator/live?journal=${ui.lastSeq}&events=${history}`);
      if (!resp.ok) throw new Error(String(resp.status));
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        let cut;
        while ((cut = text.indexOf("\n\n")) >= 0) {
          message(text.slice(0, cut));
          text = text.slice(cut + 2);
        }
      }
    } catch (err) { /* the emulator stopped, or the stream was full: try again */ }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    loadDevice();
  }
}

function message(block) {
  let name = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return;
  const payload = JSON.parse(data);
  if (name === "device") {
    addEvent(payload, true);
    if (STATE_EVENTS.has(payload.event)) refreshDevice();
    if (payload.event === "DeviceState" && ui.device && ui.device.hardware.camera) startCamera();
  } else if (name === "journal") {
    addEntry(payload, true);
    if (payload.faults && payload.faults.length || payload.action === "restart") refreshFaults();
  } else if (name === "lost") {
    addEvent({ event: `${payload.device} events not shown`, params: {}, utcTime: Date.now() / 1000 }, true);
  }
}

function addEvent(e, fresh) {
  if (!ui.eventTypes.has(e.event) && e.id !== undefined) {
    ui.eventTypes.add(e.event);
    const select = $("event-filter");
    const options = [...ui.eventTypes].sort().map((t) => el("option", { value: t }, t));
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "every type"), ...options);
    select.value = chosen;
  }
  const params = Object.entries(e.params || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("  ");
  const row = el("li", { class: fresh ? "fresh" : "", "data-type": e.event },
    el("span", { class: "time" }, clock(e.utcTime)), el("span", { class: "name" }, e.event),
    params && el("span", { class: "params-text" }, params));
  row.hidden = !!$("event-filter").value && $("event-filter").value !== e.event;
  const list = $("events");
  list.prepend(row);
  while (list.children.length > MAX_ROWS) list.lastChild.remove();
}

function filterEvents() {
  const type = $("event-filter").value;
  for (const row of $("events").children) row.hidden = !!type && row.dataset.type !== type;
}

// ---------------------------------------------------------------------------------------------
// the journal

function describeAction(a) {
  if (a.kind === "rtsp") return describeRtsp(a);
  switch (a.action) {
    case "switch": return `switch ${a.switch} ${a.state}` + (a.duration != null ? ` after ${a.duration} s` : "");
    case "output": return `output ${a.port} ${a.state}`;
    case "call": return `call ${a.session} ${a.event} (${a.direction}, ${a.peer})` + (a.reason ? `: ${a.reason}` : "");
    case "email": return `e-mail to ${a.to}: ${a.status}`;
    case "audio-test": return `audio test: ${a.result}`;
    default: return a.action;
  }
}

function describeRtsp(r) {  // the live video's sessions (kind "rtsp")
  switch (r.event) {
    case "play": return `RTSP ${r.path} playing: ${r.stream}, ${r.transport}, ${r.account || "no account"}`;
    case "end": return `RTSP ${r.path} ended (${r.reason}): ${r.pictures} pictures, ${r.dropped} dropped`;
    case "refused": return `RTSP ${r.method} refused: ${r.status}` + (r.reason ? `, ${r.reason}` : "");
    default: return `RTSP ${r.event}`;
  }
}

function addEntry(entry, fresh) {
  ui.lastSeq = Math.max(ui.lastSeq, entry.seq);
  const request = entry.kind === "request";
  let row;
  if (request) {
    const failed = entry.code !== null || entry.status === null || entry.status >= 400;
    const cls = entry.status === null ? "bad" : failed ? "err" : "ok";
    const who = [entry.account || "no account", entry.transport,
      entry.faults.length ? `faults: ${entry.faults.join(", ")}` : null,
      entry.ended !== "replied" ? entry.ended : null, `${entry.duration_ms} ms`].filter(Boolean).join(" · ");
    row = el("li", { class: "request", "data-failed": String(failed), "data-seq": entry.seq },
      el("span", { class: "time" }, clock(entry.time)),
      el("span", { class: "status " + cls }, entry.status === null ? "—" : String(entry.status)),
      el("span", { class: "what" }, `${entry.method} ${entry.path}`, entry.code !== null ? ` → ${entry.code}` : ""),
      el("span", { class: "who" }, who),
      entry.reason && el("span", { class: "reason", "data-testid": "reason" }, entry.reason));
  } else {
    row = el("li", { class: "action", "data-seq": entry.seq },
      el("span", { class: "time" }, clock(entry.time)), el("span", { class: "status" }, "◆"),
      el("span", { class: "what" }, describeAction(entry)), el("span"));
  }
  if (fresh) row.classList.add("fresh");
  row.addEventListener("click", () => showEntry(entry));
  row.hidden = !shown(row);
  const list = $("journal");
  list.prepend(row);
  while (list.children.length > MAX_ROWS) list.lastChild.remove();
}

function shown(row) {
  const request = row.classList.contains("request");
  if (request ? !$("journal-requests").checked : !$("journal-actions").checked) return false;
  return !$("journal-errors").checked || (request && row.dataset.failed === "true");
}

function filterJournal() {
  for (const row of $("journal").children) row.hidden = !shown(row);
}

function showEntry(entry) {
  const copy = Object.assign({}, entry);
  let reply = copy.reply;
  delete copy.reply;
  try { reply = JSON.stringify(JSON.parse(reply), null, 2); } catch (err) { /* XML or text: as it is */ }
  $("entry-title").textContent = entry.kind === "request" ? `${entry.method} ${entry.path}` : describeAction(entry);
  $("entry-body").textContent = JSON.stringify(copy, null, 2) +
    (entry.kind === "request" ? "\n\nreply:\n" + (reply == null ? "(not kept: none, or longer than 4 KB)" : reply) : "");
  $("entry-dialog").showModal();
}

// ---------------------------------------------------------------------------------------------
// faults

let faultSchemas = {};
const COMMON = ["path", "methods", "authenticated", "times", "probability", "seed"]; // every fault takes them

async function loadFaultKinds() {
  const doc = await call("GET", "/_emulator/openapi.json");
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    if (name.startsWith("Fault_")) faultSchemas[schema.title] = schema;
  }
  $("fault-kind").replaceChildren(...Object.keys(faultSchemas).map((k) => el("option", { value: k }, k)));
  showFaultParams();
}

function showFaultParams() {
  const schema = faultSchemas[$("fault-kind").value];
  if (!schema) return;
  $("fault-doc").textContent = schema.description;
  const fields = [], matching = [];
  for (const [name, p] of Object.entries(schema.properties)) {
    if (name === "kind") continue;
    const into = COMMON.includes(name) ? matching : fields;
    const types = [].concat(p.type);
    let input;
    if (p.enum) {
      input = el("select", {}, ...p.enum.map((v) => el("option", { value: v, selected: v === p.default }, v)));
    } else if (types.includes("boolean")) {
      input = el("input", { type: "checkbox", checked: p.default === true });
    } else {
      const numeric = types.includes("number") || types.includes("integer");
      input = el("input", { type: numeric ? "number" : "text", step: "any",
        placeholder: p.default !== undefined ? String(p.default) : types.includes("null") ? "(none)" : "required" });
    }
    input.name = name;
    input.dataset.types = types.join(",");
    input.title = p.description;
    into.push(el("label", { title: p.description }, name), input);
  }
  $("fault-params").replaceChildren(...fields, el("details", { class: "matching" },
    el("summary", {}, "which requests, how often"), el("div", { class: "params" }, ...matching)));
}

async function addFault(event) {
  event.preventDefault();
  const spec = { kind: $("fault-kind").value };
  for (const input of $("fault-params").querySelectorAll("[name]")) {
    const types = input.dataset.types.split(",");
    if (input.type === "checkbox") {
      if (input.checked) spec[input.name] = true;
    } else if (input.value !== "") {
      if (types.includes("array")) spec[input.name] = input.value.split(",").map((s) => s.trim()).filter(Boolean);
      else if (types.includes("integer") && !types.includes("number")) spec[input.name] = parseInt(input.value, 10);
      else if (types.includes("number")) spec[input.name] = Number(input.value);
      else spec[input.name] = input.value;
    }
  }
  try {
    const fault = await call("POST", "/_emulator/faults", spec);
    say(fault.scope === "device" ? `${fault.kind}: done` : `fault ${fault.id} (${fault.kind}) in force`);
  } catch (err) {
    say(`fault: ${err.message}`, true);
  }
  refreshFaults();
}

async function loadFaults() {
  const faults = await call("GET", "/_emulator/faults");
  $("faults").replaceChildren(...(faults.length ? faults.map((f) => {
    const own = Object.keys(faultSchemas[f.kind] ? faultSchemas[f.kind].properties : {})
      .filter((k) => k !== "kind" && !COMMON.includes(k))
      .map((k) => `${k}=${JSON.stringify(f[k])}`);
    const scope = f.scope === "request" ? [f.path, f.methods && f.methods.join(","), f.authenticated && "authenticated"]
      : [];
    return el("li", { class: "fault", "data-testid": `fault-${f.id}` },
      el("b", {}, `#${f.id} ${f.kind}`),
      el("code", {}, [...scope, ...own].filter(Boolean).join("  ")),
      el("span", { class: "muted" }, `hits ${f.hits}` + (f.times ? ` of ${f.times}` : "")),
      el("button", { class: "ghost", onclick: async () => { await call("DELETE", `/_emulator/faults/${f.id}`); refreshFaults(); } },
        "remove"));
  }) : [el("li", { class: "muted" }, "No fault in force.")]));
}
const refreshFaults = debounce(() => loadFaults().catch(() => {}), 150);

// ---------------------------------------------------------------------------------------------
// start

async function advance(seconds) {
  if (!(seconds >= 0)) return;
  try {
    await call("POST", "/_emulator/clock", { advance: seconds });
    say(`clock advanced by ${seconds} s`);
  } catch (err) {
    say(`clock: ${err.message}`, true);
  }
  refreshDevice();
}

function wire() {
  $("code-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const code = $("code").value.trim();
    act("code", { code }, (r) => `code ${code}: ${r.valid ? "valid" : "not valid"}`);
  });
  $("card-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const uid = $("uid").value.trim();
    act("card", { uid, direction: $("direction").value }, (r) => `card ${uid}: ${r.valid ? "valid" : "not valid"}`);
  });
  $("incoming-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act("incoming-call", { peer: $("peer").value.trim() }, (r) => `incoming call, session ${r.session}`);
  });
  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => advance(Number(button.dataset.advance)));
  }
  $("advance").addEventListener("click", () => advance(Number($("advance-seconds").value)));
  $("reboot").addEventListener("click", async () => {
    await call("POST", "/_emulator/faults", { kind: "reboot" }).catch((err) => say(err.message, true));
    say("rebooting");
    refreshDevice();
  });
  $("reset").addEventListener("click", async () => {
    if (!confirm("Back to the profile's defaults? Faults, scenarios and the journal are cleared.")) return;
    await call("POST", "/_emulator/reset");
    $("journal").replaceChildren();
    say("reset");
    refreshDevice();
    refreshFaults();
  });
  $("camera-resolution").addEventListener("change", startCamera);
  $("camera-fps").addEventListener("change", startCamera);
  $("event-filter").addEventListener("change", filterEvents);
  $("clear-events").addEventListener("click", () => $("events").replaceChildren());
  for (const id of ["journal-requests", "journal-actions", "journal-errors"]) $(id).addEventListener("change", filterJournal);
  $("fault-kind").addEventListener("change", showFaultParams);
  $("fault-form").addEventListener("submit", addFault);
}

async function start() {
  wire();
  await loadDevice();
  const entries = await call("GET", "/_emulator/journal").catch(() => []);
  for (const entry of entries.slice(-MAX_ROWS)) addEntry(entry, false);
  await loadFaultKinds().catch((err) => say(err.message, true));
  await loadFaults().catch(() => {});
  live();
  setInterval(() => { loadDevice(); refreshFaults(); }, 3000); // uptime, faults added elsewhere
}

start();
