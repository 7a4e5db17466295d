// legflow dashboard: plain JavaScript, no build step. One page, views chosen by the URL's hash.
"use strict";

// Each route renders into a fresh outlet, so a slow view that finishes after the user moved on
// draws into a detached node instead of over the new page.
const main = document.getElementById("view");
let currentOutlet = main;
function outlet() { return currentOutlet; }
const ZONE_COLOURS = { foot: "#2457c5", ankle: "#7b3fc4", calf: "#c43f8e", knee: "#c4743f", thigh: "#3f9ac4" };
const LEG_COLOURS = { left: "#1f7a3f", right: "#a86400" };

// ---------------------------------------------------------------------------------------------
// small helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", headers: {}, ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch("/api/v1" + path, init);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = typeof body === "object" ? body.detail : body;
    const error = new Error(typeof detail === "string" ? detail : detail?.message || response.statusText);
    error.status = response.status;
    error.problems = body?.problems || detail?.problems || [];
    error.fit = body?.fit || null;  // the fit check that stopped a start
    throw error;
  }
  return body;
}

function gradeBadge(grade, note) {
  const badge = el("span", { class: `grade grade-${grade}`, title: `evidence grade ${grade}` }, grade);
  return note ? [badge, " ", el("small", { class: "grade-note muted" }, note)] : badge;
}

function fmtTime(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function showError(error, where = outlet()) {
  where.append(el("p", { class: "error", role: "alert" }, error.message || String(error)));
}

// ---------------------------------------------------------------------------------------------
// live connection: one WebSocket for the whole page, reconnected with a back-off

const live = { socket: null, hello: null, state: null, summary: null, listeners: new Set(), retry: 500 };

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
  live.socket = socket;
  const link = document.getElementById("link");
  socket.onopen = () => { live.retry = 500; link.textContent = "connected"; link.classList.add("up"); };
  socket.onclose = () => {
    link.textContent = "reconnecting…"; link.classList.remove("up");
    setTimeout(connect, live.retry); live.retry = Math.min(live.retry * 2, 5000);
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "hello") { live.hello = message; if (message.running) live.summary = null; }
    else if (message.type === "state") live.state = message;
    else if (message.type === "end") live.summary = message.summary;
    for (const listener of live.listeners) listener(message);
  };
}

// The emergency stop: on pointer down (before click), over the open socket and a keep-alive POST,
// whichever arrives first. Without scripts the form posts on its own.
function armEmergencyStop() {
  const button = document.getElementById("estop");
  const form = document.getElementById("estop-form");
  const fire = (event) => {
    event.preventDefault();
    button.classList.add("pressed");
    if (live.socket && live.socket.readyState === WebSocket.OPEN) live.socket.send('{"action":"emergency_stop"}');
    fetch("/api/v1/sessions/current/emergency-stop", { method: "POST", keepalive: true, credentials: "same-origin" })
      .finally(() => setTimeout(() => button.classList.remove("pressed"), 600));
  };
  button.addEventListener("pointerdown", fire);
  form.addEventListener("submit", fire);  // keyboard: Enter or Space on the button
}

// ---------------------------------------------------------------------------------------------
// charts: a small canvas line chart

class LineChart {
  constructor(canvas, { yLabel = "", yMax = null } = {}) {
    this.canvas = canvas; this.yLabel = yLabel; this.yMax = yMax;
  }

  // series: [{name, colour, points: [[x, y], ...]}]
  draw(series, xLabel = "s") {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth || 600, height = this.canvas.clientHeight || 220;
    if (this.canvas.width !== width * ratio) { this.canvas.width = width * ratio; this.canvas.height = height * ratio; }
    const g = this.canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    const all = series.flatMap((s) => s.points);
    if (!all.length) return;
    const x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]), x0 + 1);
    const y1 = this.yMax ?? Math.max(10, ...all.map((p) => p[1])) * 1.1;
    const left = 42, bottom = height - 22, top = 8, right = width - 8;
    const sx = (x) => left + (x - x0) / (x1 - x0) * (right - left);
    const sy = (y) => bottom - Math.max(0, y) / y1 * (bottom - top);
    g.strokeStyle = "#d8dde6"; g.fillStyle = "#5d6679"; g.font = "11px system-ui"; g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const y = y1 * k / 4;
      g.beginPath(); g.moveTo(left, sy(y)); g.lineTo(right, sy(y)); g.stroke();
      g.fillText(y.toFixed(0), 4, sy(y) + 4);
    }
    g.fillText(`${x0.toFixed(0)} ${xLabel}`, left, height - 6);
    g.fillText(`${x1.toFixed(0)} ${xLabel}`, right - 50, height - 6);
    g.fillText(this.yLabel, left + 4, top + 10);
    for (const s of series) {
      g.strokeStyle = s.colour; g.lineWidth = 1.6; g.setLineDash(s.dash || []);
      g.beginPath();
      s.points.forEach(([x, y], i) => (i ? g.lineTo(sx(x), sy(y)) : g.moveTo(sx(x), sy(y))));
      g.stroke();
    }
    g.setLineDash([]);
  }
}

// every series, each with a sample of its line (solid or dashed) in its colour
function legend(series, attrs = {}) {
  return el("div", { class: "legend", ...attrs }, series.map((s) => el("span", { style: `color:${s.colour}` }, lineSample(s), s.name)));
}

function lineSample(s) {
  const root = svg("svg", { width: 22, height: 8, "aria-hidden": "true" });
  root.append(svg("line", { x1: 0, y1: 4, x2: 22, y2: 4, stroke: s.colour, "stroke-width": 2,
    "stroke-dasharray": (s.dash || []).join(" ") || "none" }));
  return root;
}

// a table in a container that scrolls sideways on a narrow screen, so the page never does
function scrolling(table) {
  return el("div", { class: "scroll" }, table);
}

function cellColour(cell, zones) {
  const zone = zones[cell] || "calf";
  return ZONE_COLOURS[zone] || "#333";
}

// ---------------------------------------------------------------------------------------------
// the legs: an SVG of both legs, one shape per cell, filled by pressure

const ZONE_SPANS = { thigh: [10, 150], knee: [150, 190], calf: [190, 300], ankle: [300, 330], foot: [330, 390] };

function legsSvg(hello) {
  const root = svg("svg", { viewBox: "0 0 320 420", role: "img", "aria-label": "both legs and their cells" });
  const legX = { left: 40, right: 190 };
  for (const leg of ["left", "right"]) {
    const x = legX[leg];
    root.append(svg("path", {  // the outline of the leg, drawn whether or not a cell covers it
      d: `M${x + 10} 10 h80 l-8 180 l-6 110 l4 30 h40 v45 h-90 l6 -75 l-8 -110 z`,
      fill: "#f3ede6", stroke: "#c9b8a6", "stroke-width": 1.5,
    }));
    const label = svg("text", { x: x + 40, y: 410, "text-anchor": "middle", "font-size": 13, fill: "#5d6679" });
    label.textContent = leg;
    root.append(label);
  }
  const byZone = {};
  hello.cells.forEach((cell, i) => {
    const [leg] = cell.split(".");
    const key = `${leg}.${hello.cell_zones[i]}`;
    (byZone[key] = byZone[key] || []).push(cell);
  });
  for (const [key, cells] of Object.entries(byZone)) {
    const [leg, zone] = key.split(".");
    const [y0, y1] = ZONE_SPANS[zone];
    const x = legX[leg] + (zone === "foot" ? 6 : 14);
    const width = zone === "foot" ? 120 : 70;
    const h = (y1 - y0 - 4) / cells.length;
    cells.forEach((cell, k) => {  // cells sharing a zone stack distal (bottom) to proximal (top)
      const rect = svg("rect", {
        x, y: y1 - 2 - (k + 1) * h, width, height: h - 2, rx: 8, class: "cell", id: `cell-${cell}`,
        fill: pressureFill(0, 100), "data-pressure": "0",
      });
      const title = svg("title"); title.textContent = cell; rect.append(title);
      root.append(rect);
    });
  }
  for (const leg of ["left", "right"]) {
    const rollers = svg("g", { id: `rollers-${leg}`, opacity: 0.25 });
    for (let k = 0; k < 3; k++) rollers.append(svg("circle", { cx: legX[leg] + 30 + 30 * k, cy: 398, r: 6, fill: "#2457c5" }));
    root.append(rollers);
    root.append(svg("rect", { id: `heat-${leg}`, x: legX[leg] + 16, y: 196, width: 66, height: 6, rx: 3, fill: "#ddd" }));
  }
  return root;
}

function pressureFill(pressure, top) {
  const f = Math.max(0, Math.min(1, pressure / top));
  return `hsl(${220 - 220 * f}, 80%, ${94 - 50 * f}%)`;  // pale blue (empty) to deep red (full)
}

function paintLegs(root, hello, state) {
  state.cells.forEach((cell, i) => {
    const node = root.querySelector(`[id="cell-${cell}"]`);
    if (!node) return;
    const p = state.pressure_mmHg[i];
    node.setAttribute("fill", pressureFill(p, hello.cell_limit_mmHg[i] || 100));  // full colour at its limit
    node.setAttribute("data-limit", String(hello.cell_limit_mmHg[i]));
    node.setAttribute("data-pressure", p.toFixed(1));
  });
  for (const [k, leg] of (hello.legs || []).entries()) {
    const rollers = root.querySelector(`#rollers-${leg}`);
    if (rollers) rollers.setAttribute("opacity", state.rollers && !state.paused ? 1 : 0.25);
    const heat = root.querySelector(`#heat-${leg}`);
    if (heat) heat.setAttribute("fill", state.heat_target_C ? pressureFill(state.skin_temp_C[k] - 30, 12) : "#ddd");
  }
}

// ---------------------------------------------------------------------------------------------
// views

async function programsView(params) {
  const view = outlet();
  const goal = params.get("goal") || "";
  const [rows, choices] = await Promise.all([api("/programs" + (goal ? `?goal=${goal}` : "")), api("/choices")]);
  const filter = el("select", { id: "goal-filter", onchange: (e) => { location.hash = `#/programs?goal=${e.target.value}`; } },
    el("option", { value: "" }, "all goals"), choices.goals.map((g) => el("option", { value: g, selected: g === goal }, g)));
  const table = el("table", { id: "library", "data-goal": goal || "all" },
    el("tr", {}, ["program", "goal", "zones", "min", "evidence", ""].map((h) => el("th", {}, h))),
    rows.map((r) => el("tr", { class: "click", onclick: () => { location.hash = `#/program/${r.name}`; } },
      el("td", {}, el("strong", {}, r.title), el("div", { class: "muted" }, r.name)),
      el("td", {}, r.goal), el("td", {}, r.zones.join(", ") || "by hand"), el("td", {}, r.minutes),
      el("td", {}, gradeBadge(r.grade, r.grade_note)), el("td", { class: "muted" }, r.origin === "user" ? "yours" : ""))));
  view.replaceChildren(el("h1", {}, "Programs"), el("p", {}, el("label", {}, "Goal ", filter),
    el("a", { href: "#/editor" }, "New program")), scrolling(table));
}

function timelineChart(timeline) {
  const canvas = el("canvas", { class: "chart" });
  const series = Object.entries(timeline.zones).map(([zone, values]) => ({
    name: zone, colour: ZONE_COLOURS[zone] || "#333", points: timeline.t_s.map((t, i) => [t, values[i]]) }));
  requestAnimationFrame(() => new LineChart(canvas, { yLabel: "mmHg" }).draw(series));
  return [canvas, legend(series), el("p", { class: "muted" }, timeline.whole_phase ? "the whole phase" : "one cycle")];
}

async function programView(params, name) {
  const view = outlet();
  const [p, choices, profiles] = await Promise.all([api(`/programs/${name}`), api("/choices"), api("/profiles")]);
  const phases = p.phases.map((phase, i) => el("div", { class: "card" },
    el("h3", {}, `Phase ${i + 1}: ${phase.name} — ${phase.duration_min} min`),
    phase.compression ? el("p", {}, `compression: ${phase.compression.pattern}, ${phase.compression.zones.join(", ")}`) : null,
    phase.rollers ? el("p", {}, `rollers: ${phase.rollers.zones.join(", ")} (${phase.rollers.speed})`) : null,
    phase.heat ? el("p", {}, `heat: ${phase.heat.target_C} °C`) : null,
    phase.timeline ? timelineChart(phase.timeline) : null,
    (phase.guide || []).map((g) => el("p", { class: "guide" }, `at ${g.at_s} s [${g.area}] ${g.text}`))));
  const evidence = el("table", { id: "evidence" },
    el("tr", {}, ["grade", "what the evidence says", "its dose", "this program", "sources"].map((h) => el("th", {}, h))),
    p.evidence.map((e) => el("tr", {}, el("td", {}, gradeBadge(e.grade)), el("td", {}, e.text),
      el("td", {}, e.dose || "-"), el("td", {}, e.verdict), el("td", { class: "muted" }, e.sources.join("; ")))));
  const select = (id, values, chosen) => el("select", { id }, values.map((v) => el("option", { value: v, selected: v === chosen }, v)));
  // how the program runs on the chosen device: as written, adapted (each change), or refused (why)
  const onDevice = el("div", { id: "on-device" });
  const showOnDevice = async (profile) => {
    const fit = await api(`/programs/${encodeURIComponent(name)}/on-device?profile=${encodeURIComponent(profile)}`);
    const lines = fit.verdict === "refused" ? fit.problems.map((p) => p.message) : fit.changes;
    const head = { runs: `runs as written on ${profile}`, adapted: `adapted to ${profile}:`, refused: `refused on ${profile}:` }[fit.verdict];
    onDevice.className = `on-device ${fit.verdict}`;
    onDevice.replaceChildren(el("p", {}, head), el("ul", {}, lines.map((line) => el("li", {}, line))));
  };
  // the fit check before a start: what did not fit, what to do, and the user's consent to go on
  const fitReport = el("div", { id: "fit-report" });
  const startWith = async (form, fit) => {
    const value = (id) => form.querySelector(`#${id}`).value;
    const right = value("subject-right");
    const subject = right === "same" ? value("subject") : `${value("subject")},${right}`;
    await api("/sessions", { json: { program: name, profile: value("profile"), subject,
      posture: value("posture"), fit } });
    location.hash = "#/live";
  };
  const start = el("form", { id: "start-form", onsubmit: async (event) => {
    event.preventDefault();
    const form = event.target;
    fitReport.replaceChildren();
    try {
      await startWith(form, "check");
    } catch (error) {
      if (error.fit) {
        const unfit = Object.values(error.fit.cells).filter((c) => c.verdict !== "ok");
        fitReport.replaceChildren(
          el("p", { class: "error" }, "The fit check found cells that do not fit:"),
          el("ul", {}, unfit.map((c) => el("li", { class: `fit-${c.verdict}` }, `${c.cell}: ${c.verdict} — ${c.advice}`))),
          el("button", { type: "button", id: "start-anyway", onclick: () => startWith(form, "anyway").catch((e) => showError(e, form)) },
            "Start anyway"));
        return;
      }
      showError(error, form); (error.problems || []).forEach((pr) => form.append(el("p", { class: "error" }, pr.message)));
    }
  } },
  el("label", {}, "Device ", select("profile", profiles.map((x) => x.name), "reference")),
  onDevice,
  el("label", {}, "Leg twin ", select("subject", choices.subjects, "adult")),
  el("label", {}, "right leg ", select("subject-right", ["same", ...choices.subjects], "same")),
  el("label", {}, "Posture ", select("posture", choices.postures, "supine")),
  el("button", { class: "primary", type: "submit", id: "start" }, "Start session"), fitReport);
  view.replaceChildren(
    el("h1", {}, p.title, " ", gradeBadge(p.grade, p.grade_note)),
    el("p", {}, `${p.goal} · legs ${p.legs} · ${p.minutes} min · peak ${p.peak_mmHg} mmHg`, p.dose ? ` · dose: ${p.dose}` : ""),
    el("p", {}, p.summary),
    el("div", { class: "card" }, start, el("p", {}, el("a", { href: `#/editor/${name}` }, p.origin === "user" ? "Edit" : "Edit a copy"))),
    el("h2", {}, "Timeline"), ...phases,
    el("h2", {}, "Evidence"), scrolling(evidence),
    el("p", { class: "muted" }, Object.entries(p.grade_meaning).map(([g, m]) => `${g}: ${m}`).join(" · ")));
  const device = start.querySelector("#profile");
  device.addEventListener("change", () => showOnDevice(device.value).catch(alertError));
  await showOnDevice(device.value);
}

async function editorView(params, name) {
  const view = outlet();
  let text = "", saveAs = name || "";
  if (name) {
    const p = await api(`/programs/${encodeURIComponent(name)}/toml`);  // as it is, valid or not
    text = p.toml;
    if (p.origin === "builtin") saveAs = `my-${name}`;
  }
  const choices = await api("/choices");
  const area = el("textarea", { id: "toml", spellcheck: "false", "aria-label": "program TOML" });
  area.value = text;
  const gutter = el("div", { class: "gutter", "aria-hidden": "true" });
  const problemsList = el("ul", { class: "problems", id: "problems" });
  const verdict = el("p", { id: "verdict" });
  let timer = null;

  const paintGutter = (problems) => {
    const bad = new Set(problems.map((p) => p.line));
    const n = area.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) =>
      el("div", { class: bad.has(i + 1) ? "bad" : "" }, i + 1)));
    gutter.scrollTop = area.scrollTop;
  };
  const showProblems = (problems, ok, program, warnings = [], adapted = []) => {
    problemsList.replaceChildren(...problems.map((p) => el("li", { onclick: () => gotoLine(area, p.line) },
      `line ${p.line}: ${p.field}: ${p.message}`)), ...warnings.map((p) => el("li", { class: "warning",
      onclick: () => gotoLine(area, p.line) }, `line ${p.line}: ${p.field}: warning: ${p.message}`)),
      ...adapted.map((change) => el("li", { class: "adapted" }, `adapted to the device: ${change}`)));
    verdict.className = ok ? "ok" : "error";
    const warned = warnings.length ? ` (${warnings.length} warning(s))` : "";
    verdict.textContent = ok ? `valid${warned}: ${program.title}, ${program.minutes.toFixed(1)} min` : `${problems.length} problem(s)`;
    paintGutter(problems);
  };
  const check = async () => {
    if (!area.value.trim()) { showProblems([], false, null); verdict.textContent = "empty"; return; }
    const result = await api("/check", { json: { toml: area.value } });
    showProblems(result.problems, result.ok, result.program, result.warnings || [], result.adapted || []);
  };
  area.addEventListener("input", () => { paintGutter([]); clearTimeout(timer); timer = setTimeout(check, 300); });
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });

  const nameInput = el("input", { id: "save-name", value: saveAs, placeholder: "my-program", pattern: "[a-z0-9][a-z0-9_-]*" });
  const saved = el("span", { id: "saved" });
  const save = el("button", { class: "primary", id: "save", onclick: async () => {
    saved.textContent = "";
    try {
      const result = await api(`/programs/${nameInput.value}`, { method: "PUT", json: { toml: area.value } });
      saved.className = "ok"; saved.textContent = `saved as ${result.name}`;
    } catch (error) {
      saved.className = "error"; saved.textContent = error.message;
      if (error.problems.length) showProblems(error.problems, false, null);
    }
  } }, "Save");

  // the form for the common edits, applied on the server to the TOML so comments stay
  const editForm = el("form", { id: "edit-form", onsubmit: async (event) => {
    event.preventDefault();
    const f = event.target;
    const phase = { index: Number(f.querySelector("#e-phase").value) - 1 };
    for (const key of ["duration_min", "pressure_mmHg", "hold_s", "rest_s"]) {
      const value = f.querySelector(`#e-${key}`).value;
      if (value !== "") phase[key] = Number(value);
    }
    const title = f.querySelector("#e-name").value;
    try {
      const result = await api("/edit", { json: { toml: area.value, name: title || null, phases: [phase] } });
      area.value = result.toml;
      showProblems(result.problems, !result.problems.length, { title: title || "program", minutes: 0 });
      await check();
    } catch (error) { showError(error, f); }
  } },
  el("label", {}, "Name ", el("input", { id: "e-name", placeholder: "unchanged" })),
  el("label", {}, "Phase ", el("input", { id: "e-phase", type: "number", min: 1, value: 1, style: "width:4em" })),
  ["duration_min", "pressure_mmHg", "hold_s", "rest_s"].map((key) =>
    el("label", {}, `${key} `, el("input", { id: `e-${key}`, type: "number", step: "any", min: 0, style: "width:6em", placeholder: "—" }))),
  el("button", { type: "submit" }, "Apply"));

  const composeForm = el("form", { id: "compose-form", onsubmit: async (event) => {
    event.preventDefault();
    const f = event.target;
    const zones = [...f.querySelectorAll("input[name=zone]:checked")].map((x) => x.value);
    try {
      const result = await api("/compose", { json: { goal: f.querySelector("#c-goal").value, zones,
        intensity: Number(f.querySelector("#c-intensity").value), minutes: Number(f.querySelector("#c-minutes").value) } });
      area.value = result.toml;
      await check();
    } catch (error) { showError(error, f); }
  } },
  el("label", {}, "Goal ", el("select", { id: "c-goal" }, choices.goals.map((g) => el("option", { value: g }, g)))),
  choices.compression.map((z) => el("label", {}, el("input", { type: "checkbox", name: "zone", value: z, checked: z === "calf" }), z)),
  el("label", {}, "Intensity ", el("input", { id: "c-intensity", type: "number", min: 1, max: 5, value: 3, style: "width:3em" })),
  el("label", {}, "Minutes ", el("input", { id: "c-minutes", type: "number", min: 1, max: 60, value: 20, style: "width:4em" })),
  el("button", { type: "submit" }, "Compose"));

  view.replaceChildren(el("h1", {}, name ? `Edit ${name}` : "New program"),
    el("div", { class: "card" }, el("h3", {}, "Compose from a goal"), composeForm),
    el("div", { class: "card" }, el("h3", {}, "Common edits"), editForm),
    el("div", { class: "editor" }, gutter, area), verdict, problemsList,
    el("p", {}, el("label", {}, "Save as ", nameInput), save, " ", saved,
      el("span", { class: "muted" }, " (saved to your program folder; run it from the library)")));
  paintGutter([]);
  if (area.value) await check();
}

function gotoLine(area, line) {
  const lines = area.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1] || "").length);
}

async function screeningView() {
  const view = outlet();
  const questions = await api("/screening/questions");
  const choices = await api("/choices");
  const stored = await api("/screening/default").catch(() => ({ answers: null }));
  const given = stored.answers || {};
  const result = el("div", { id: "screening-result" });
  const field = (q) => {
    if (q.kind === "age") return el("input", { type: "number", name: q.id, min: 0, max: 130, value: given.age ?? 40, required: true });
    if (q.kind === "zones") return el("span", {}, choices.compression.map((z) => el("label", {},
      el("input", { type: "checkbox", name: q.id, value: z, checked: (given[q.id] || []).includes(z) }), z)));
    return el("span", {}, ["no", "yes"].map((v) => el("label", {},
      el("input", { type: "radio", name: q.id, value: v, required: true, checked: (given[q.id] ? "yes" : "no") === v && q.id in given }), v)));
  };
  const form = el("form", { id: "screening-form", onsubmit: async (event) => {
    event.preventDefault();
    const answers = {};
    for (const q of questions) {
      if (q.kind === "age") answers[q.id] = Number(form.querySelector(`[name=${q.id}]`).value);
      else if (q.kind === "zones") answers[q.id] = [...form.querySelectorAll(`[name=${q.id}]:checked`)].map((x) => x.value);
      else answers[q.id] = form.querySelector(`[name=${q.id}]:checked`)?.value === "yes";
    }
    try { showDecisions(await api("/screening", { json: { user: form.querySelector("#user").value, answers } })); }
    catch (error) { result.replaceChildren(); showError(error, result); }
  } },
  el("p", {}, el("label", {}, "User ", el("input", { id: "user", value: "default" }))),
  scrolling(el("table", {}, questions.map((q) => el("tr", {}, el("td", {}, q.ask, el("div", { class: "muted" }, `${q.action.replace("_", " ")}: ${q.why}`)), el("td", {}, field(q)))))),
  el("p", {}, el("button", { class: "primary", type: "submit" }, "Save answers")));
  const showDecisions = (answer) => {
    const items = answer.decisions.map((d) => el("li", { class: d.action.startsWith("block") ? "error" : "warn" },
      `${d.action.replace("_", " ")}: ${d.text}`));
    result.replaceChildren(
      answer.blocked ? el("p", { class: "error big" }, "No session can start for this user.") :
        el("p", { class: "ok" }, answer.decisions.length ? "Sessions may run within these limits:" : "Nothing limits a session; the default limits apply."),
      el("ul", {}, items));
  };
  view.replaceChildren(el("h1", {}, "Screening"),
    el("p", { class: "notice" }, "Answers only ever tighten the limits. A massager can never rule out a deep vein thrombosis."),
    form, result);
  if (stored.answers) showDecisions(stored);
}

function liveView() {
  const view = outlet();
  const holder = el("div", { class: "legs", id: "legs" });
  const status = el("p", { id: "live-status", class: "big" }, "no session running");
  const phase = el("p", { id: "phase" });
  const guide = el("p", { id: "guide", class: "guide", hidden: true });
  const adapted = el("ul", { id: "adapted", class: "muted", hidden: true });  // changes for this device
  const indicators = el("p", { class: "indicators", id: "indicators" });
  const twinLine = el("p", { id: "twin" });
  const pressureCanvas = el("canvas", { class: "chart", id: "pressure-chart" });
  const twinCanvas = el("canvas", { class: "chart", id: "twin-chart" });
  const pressureLegend = el("div", { id: "pressure-legend" }), twinLegend = el("div");
  const controls = el("p", {},
    el("button", { id: "pause", onclick: () => api("/sessions/current/pause", { method: "POST" }).catch(alertError) }, "Pause"), " ",
    el("button", { id: "resume", onclick: () => api("/sessions/current/resume", { method: "POST" }).catch(alertError) }, "Resume"), " ",
    el("button", { id: "stop", onclick: () => api("/sessions/current/stop", { method: "POST" }).catch(alertError) }, "Stop (vent)"));
  // intensity in the user's hands: level, a boost on one zone, zones paused (drawn per session)
  const intensityText = el("span", { id: "intensity-text" });
  const intensityButtons = el("span", { id: "intensity-buttons" });
  const intensity = el("div", { id: "intensity", class: "intensity" }, intensityText, " ", intensityButtons);
  const intensityCost = el("p", { id: "intensity-cost", class: "muted" });
  const ask = (body) => api("/sessions/current/intensity", { json: body }).then((answer) => {
    const cost = answer.cost;  // the twin alone, over the program as written and at these shares
    intensityCost.textContent = cost ? `at this intensity the twin gives ${cost.as_run.ejected_mL_per_cycle.toFixed(0)} mL of blood per cycle and clears ` +
      `${cost.as_run.fluid_cleared_mL.toFixed(0)} mL of fluid; the program as written ${cost.as_written.ejected_mL_per_cycle.toFixed(0)} mL and ` +
      `${cost.as_written.fluid_cleared_mL.toFixed(0)} mL (a model's prediction)` : "";
  }).catch(alertError);
  const intensityControls = (hello) => {
    const now = () => (live.state && live.state.intensity) || { level: 0, boost: null, paused: [] };
    const zoneButtons = (hello.zones || []).map((zone) => el("span", { class: "zone-controls" },
      el("button", { id: `boost-${zone}`, onclick: () => ask({ boost: now().boost === zone ? "" : zone }) }, `boost ${zone}`), " ",
      el("button", { id: `pause-${zone}`, onclick: () => {
        const paused = new Set(now().paused);
        if (paused.has(zone)) paused.delete(zone); else paused.add(zone);
        ask({ paused: [...paused] });
      } }, `pause ${zone}`)));
    intensityButtons.replaceChildren(
      el("button", { id: "level-down", onclick: () => ask({ level: Math.max(-2, now().level - 1) }) }, "level −"), " ",
      el("button", { id: "level-up", onclick: () => ask({ level: Math.min(2, now().level + 1) }) }, "level +"), " ",
      ...zoneButtons);
  };
  const outcome = el("div", { id: "outcome" });  // the safe state, when the supervisor holds it
  const ended = el("div");
  view.replaceChildren(el("h1", {}, "Live session"), status, el("div", { class: "row" },
    el("div", { class: "card" }, holder, indicators),
    el("div", { class: "card" }, phase, guide, adapted, controls, intensity, intensityCost, twinLine, outcome, ended)),
  el("div", { class: "card" }, el("h3", {}, "Cell pressure (last 60 s)"), pressureCanvas, pressureLegend),
  el("div", { class: "card" }, el("h3", {}, "Leg twin: venous outflow (a model prediction)"), twinCanvas, twinLegend));

  const history = [];  // recent states for the charts
  let drawn = null, pending = false;
  const pressureChart = new LineChart(pressureCanvas, { yLabel: "mmHg" });
  const twinChart = new LineChart(twinCanvas, { yLabel: "mL/min" });

  const render = () => {
    pending = false;
    const hello = live.hello, state = live.state;
    if (!hello || !hello.cells) { status.textContent = "no session running"; return; }
    if (drawn !== hello.run) {
      holder.replaceChildren(legsSvg(hello)); drawn = hello.run; history.length = 0;
      const changes = hello.adapted || [];
      adapted.hidden = !changes.length;
      adapted.replaceChildren(...changes.map((change) => el("li", {}, `adapted to ${hello.profile}: ${change}`)));
      intensityControls(hello);
    }
    if (!state || state.run !== hello.run) { status.textContent = `starting ${hello.title}…`; return; }
    paintLegs(holder.firstChild, hello, state);
    const word = state.trip && state.trip.is_fault ? "fault" : state.paused ? "paused" : state.status;
    status.textContent = `${hello.title}: ${word}`;
    status.className = `big status-${word}`;
    const running = state.status === "running" || state.status === "stopping";
    phase.textContent = running ? `${state.phase} · ${fmtTime(state.duration_s - state.t_s)} left (phase ${fmtTime(state.phase_left_s)})`
      : `${state.phase} · ended at ${fmtTime(state.t_s)} of ${fmtTime(state.duration_s)}`;
    guide.hidden = !state.guide; guide.textContent = state.guide || "";
    intensityText.textContent = state.intensity ? `intensity: ${state.intensity.text}` : "";
    indicators.replaceChildren(
      el("span", { class: state.rollers ? "on" : "", id: "rollers-state" }, `rollers: ${state.rollers || "off"}`),
      el("span", { class: state.heat_target_C ? "on" : "", id: "heat-state" },
        `heat: ${state.heat_target_C ? state.heat_target_C + " °C target" : "off"}, skin ${state.skin_temp_C.map((t) => t.toFixed(1)).join(" / ")} °C`),
      el("span", {}, `vibration: ${state.vibration_level || "off"}`));
    outcome.replaceChildren(...ending(state));
    if (state.twin) {
      twinLine.textContent = "twin: " + hello.legs.map((leg, k) =>
        `${leg} outflow ${state.twin.outflow_mL_per_min[k].toFixed(0)} mL/min, fluid cleared ${state.twin.fluid_cleared_mL[k].toFixed(1)} mL`).join(" · ");
    }
    // charted on the session's clock, which runs on through pauses and the vent after the end
    const recent = history.filter((s) => s.clock_s >= state.clock_s - 60);
    const cellSeries = hello.cells.map((cell, i) => ({ name: cell, colour: ZONE_COLOURS[hello.cell_zones[i]] || "#333",
      dash: cell.startsWith("right") ? [4, 3] : [], points: recent.map((s) => [s.clock_s, s.pressure_mmHg[i]]) }));
    pressureChart.draw(cellSeries);
    if (String(drawn) !== pressureLegend.dataset.for) {
      pressureLegend.replaceChildren(legend(cellSeries));
      pressureLegend.dataset.for = String(drawn);
    }
    if (state.twin) {
      const twinSeries = hello.legs.map((leg, k) => ({ name: leg, colour: LEG_COLOURS[leg], points: recent.filter((s) => s.twin).map((s) => [s.clock_s, s.twin.outflow_mL_per_min[k]]) }));
      twinChart.draw(twinSeries);
      twinLegend.replaceChildren(legend(twinSeries));
    }
  };
  const onMessage = (message) => {
    if (message.type === "state") { history.push(message); if (history.length > 4000) history.splice(0, 1000); }
    if (message.type === "error") {
      ended.replaceChildren(el("p", { class: "error big", id: "ended" }, message.detail));
    }
    if (message.type === "end") {
      const s = message.summary;
      ended.replaceChildren(el("p", { class: `status-${s.status}`, id: "ended" }, `Session ${s.id ?? ""} ${s.status} after ${fmtTime(s.duration_s)}. `,
        el("a", { href: `#/history/${s.id}` }, "Open it in the history")));
    }
    if (!pending) { pending = true; requestAnimationFrame(render); }  // draw at most once a frame
  };
  live.listeners.add(onMessage);
  render();
  return () => live.listeners.delete(onMessage);
}

function alertError(error) { alert(error.message); }

// Once a session ends or stops: the safe state, if the supervisor holds it, and the cells as sensed
// (venting until every cell reads empty; "vented" only when the readings say so).
function ending(state) {
  if (state.status === "running") return [];
  const highest = Math.max(...state.pressure_mmHg).toFixed(1);
  // with the link lost the last readings are old: say what is known, not what they say
  const lost = state.trip && state.trip.detector === "link_lost";
  const vent = state.vented ? "every cell vented"
    : lost ? "no readings since the link to the massager was lost: it vents on its own watchdog"
      : state.venting ? `venting… (highest cell ${highest} mmHg)`
        : `venting did not finish: a cell still reads ${highest} mmHg`;
  return [
    state.trip ? el("p", { class: state.trip.is_fault ? "error big" : "warn big", id: "safe-state" },
      `Safe state: ${state.trip.message}`) : null,
    el("p", { class: state.vented ? "ok" : "warn", id: "vent-state" }, `Pump off, heat and motors off; ${vent}.`),
  ];
}

async function historyView() {
  const view = outlet();
  const rows = await api("/history");
  view.replaceChildren(el("h1", {}, "History"), rows.length ? scrolling(el("table", { id: "history" },
    el("tr", {}, ["id", "started (UTC)", "program", "device", "status", "minutes", "faults"].map((h) => el("th", {}, h))),
    rows.map((r) => el("tr", { class: "click", onclick: () => { location.hash = `#/history/${r.id}`; } },
      el("td", {}, r.id), el("td", {}, r.started_at.replace("T", " ").replace("+00:00", "")), el("td", {}, r.program),
      el("td", {}, r.profile), el("td", { class: `status-${r.status}` }, r.status), el("td", {}, (r.duration_s / 60).toFixed(1)),
      el("td", {}, r.summary ? r.summary.faults.length : ""))))) : el("p", {}, "No sessions yet."));
}

async function sessionView(params, id) {
  const view = outlet();
  const s = await api(`/history/${id}`);
  const summary = s.summary || {};
  const zones = {};
  s.cells.forEach((cell) => { zones[cell] = cell.split(".")[1].replace(/_.*|\d+$/, ""); });
  const pressureCanvas = el("canvas", { class: "chart", id: "history-pressure" });
  const series = s.cells.map((cell, i) => ({ name: cell, colour: cellColour(cell, zones), dash: cell.startsWith("right") ? [4, 3] : [],
    points: s.samples.map((x) => [x.t_s, x.pressure_mmHg[i]]) }));
  const parts = [el("h1", {}, `Session ${s.id}: ${s.program}`),
    el("p", {}, `${s.started_at} · ${s.profile} · `, el("span", { class: `status-${s.status}` }, s.status), ` · ${fmtTime(s.duration_s)}`),
    el("p", {}, el("a", { href: `/api/v1/history/${s.id}/export?format=csv`, id: "export-csv" }, "Export CSV"), " · ",
      el("a", { href: `/api/v1/history/${s.id}/export?format=json`, id: "export-json" }, "Export JSON")),
    el("div", { class: "card" }, el("h3", {}, "Cell pressure"), pressureCanvas, legend(series, { id: "history-legend" }))];
  const withTwin = s.samples.filter((x) => x.twin);
  let twinCanvas = null, twinSeries = [];
  if (withTwin.length) {
    const legs = [...new Set(s.cells.map((c) => c.split(".")[0]))];
    twinCanvas = el("canvas", { class: "chart", id: "history-twin" });
    twinSeries = legs.map((leg, k) => ({ name: leg, colour: LEG_COLOURS[leg], points: withTwin.map((x) => [x.t_s, x.twin.outflow_mL_per_min[k]]) }));
    parts.push(el("div", { class: "card" }, el("h3", {}, "Leg twin: venous outflow, mL/min (a model prediction)"), twinCanvas, legend(twinSeries)));
  }
  if (summary.twin) {
    parts.push(el("div", { class: "card" }, el("h3", {}, "Leg twin summary (a model prediction, not clinical evidence)"),
      scrolling(el("table", {}, Object.entries(summary.twin).filter(([, v]) => typeof v !== "object").map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))))));
  }
  if (summary.faults && summary.faults.length) {
    parts.push(el("div", { class: "card" }, el("h3", {}, "Faults"), scrolling(el("table", {}, summary.faults.map((f) =>
      el("tr", {}, el("td", { class: "error" }, f.kind), el("td", {}, f.cell || ""), el("td", {}, f.message || ""),
        el("td", {}, f.safe_at_s != null ? `safe at ${f.safe_at_s} s` : "")))))));
  }
  parts.push(el("div", { class: "card" }, el("h3", {}, "Events"), scrolling(el("table", { id: "events" },
    s.events.map((e) => el("tr", {}, el("td", {}, `${e.t_s.toFixed(1)} s`), el("td", {}, e.kind), el("td", {}, e.detail)))))));
  view.replaceChildren(...parts);
  requestAnimationFrame(() => {
    new LineChart(pressureCanvas, { yLabel: "mmHg" }).draw(series);
    if (twinCanvas) new LineChart(twinCanvas, { yLabel: "mL/min" }).draw(twinSeries);
  });
}

// ---------------------------------------------------------------------------------------------
// a user's record: adherence calendar, reminders, plan, outcomes (the API's, which are the CLI's)

const WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const DAY_MARKS = { met: "✓", partly: "◐", missed: "✗", none: "" };
// How often the reminders are asked for again; the page only shows them, it never starts a session.
const REMINDER_POLL_MS = 60_000;

// "2026-11-30" → Monday 0 .. Sunday 6, and the day of the month (read as written: no time zone)
function dayParts(text) {
  const [y, m, d] = text.split("-").map(Number);
  return { weekday: (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7, day: d, month: m };
}

// the day's status comes with it (the CLI's words); its kind picks the colour and the mark
const DAY_KINDS = { "met": "met", "partly done": "partly", "missed": "missed", "not done yet today": "missed", "nothing planned": "none" };
function dayKind(d) { return DAY_KINDS[d.status] || "none"; }

function minutes(value) { return Number(value).toFixed(value % 1 ? 1 : 0); }

// a value in its measure's unit: "36.5 cm", "4 on 0-10" (a unit that is a scale)
function inUnit(value, unit) { return /^\d/.test(unit) ? `${value} on ${unit}` : `${value} ${unit}`; }

// one grid row per week, Monday first, each day coloured by what was done against the plan
function adherenceCalendar(record) {
  const grid = el("div", { class: "calendar", id: "calendar", role: "table", "aria-label": "adherence by day" });
  grid.append(...WEEKDAY_NAMES.map((name) => el("div", { class: "head", role: "columnheader" }, name)),
    el("div", { class: "head", role: "columnheader" }, "week"));
  const last = record.days.length - 1;
  let week = 0, column = 0;
  const weekTotal = () => {
    const w = record.weeks[week++];
    grid.append(el("div", { class: "week-total", title: w ? `week of ${w.week_of}` : "" },
      w ? `${minutes(w.done_min)}/${minutes(w.planned_min)} min, ${w.days_met} met` : ""));
  };
  record.days.forEach((d, i) => {
    const { weekday, day, month } = dayParts(d.date);
    if (i === 0) for (; column < weekday; column++) grid.append(el("div", { class: "day blank", "aria-hidden": "true" }));
    const kind = dayKind(d);
    const words = d.status;
    const sessions = d.sessions.length ? `; session(s) ${d.sessions.join(", ")}` : "";
    const title = `${WEEKDAY_NAMES[weekday]} ${d.date}: ${minutes(d.done_min)} of ${minutes(d.planned_min)} min done, ${words}${sessions}`;
    const label = i === 0 || day === 1 ? `${day} ${new Date(Date.UTC(2000, month - 1, 1)).toLocaleString("en", { month: "short", timeZone: "UTC" })}` : String(day);
    grid.append(el("div", { class: `day ${kind}${i === last ? " today" : ""}`, "data-date": d.date, title, "aria-label": title, role: "cell" },
      el("span", { class: "date" }, label), " ", el("span", { class: "mark", "aria-hidden": "true" }, DAY_MARKS[kind]),
      el("div", { class: "minutes" }, d.planned_min > 0 || d.done_min > 0 ? `${minutes(d.done_min)}/${minutes(d.planned_min)} min` : "—")));
    column = weekday + 1;
    if (column === 7) { weekTotal(); column = 0; }
  });
  if (column) {
    for (; column < 7; column++) grid.append(el("div", { class: "day blank", "aria-hidden": "true" }));
    weekTotal();
  }
  return grid;
}

function calendarLegend() {
  return el("p", { class: "calendar-legend muted" }, ["met", "partly", "missed", "none"].map((kind) =>
    el("span", {}, el("span", { class: `swatch day ${kind}`, "aria-hidden": "true" }),
      ` ${{ met: "met (90% of the planned minutes)", partly: "partly done", missed: "missed", none: "nothing planned" }[kind]} `)));
}

function planBounds(bounds) {
  if (!bounds) return ["no bounds: the user's comfort moves within the device's limits"];
  const lines = Object.entries(bounds.pressure_mmHg || {}).map(([zone, [low, high]]) => `${zone}: ${low}-${high} mmHg`);
  if (bounds.session_min) lines.push(`session: ${bounds.session_min[0]}-${bounds.session_min[1]} min`);
  if (bounds.sessions_per_week) lines.push(`${bounds.sessions_per_week[0]}-${bounds.sessions_per_week[1]} sessions a week`);
  return lines.length ? lines : ["no bounds set"];
}

async function recordView(params) {
  const view = outlet();
  const user = params.get("user") || "default";
  const path = `/users/${encodeURIComponent(user)}`;
  const userForm = el("form", { id: "record-user-form", onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/record?user=${encodeURIComponent(event.target.querySelector("#record-user").value.trim())}`;
  } }, el("label", {}, "User ", el("input", { id: "record-user", value: user, required: true })),
  el("button", { type: "submit" }, "Show"));

  const next = el("p", { id: "next-reminder" }, "…");
  const overdue = el("ul", { id: "overdue" });
  const remindersCard = el("div", { class: "card", id: "reminders" }, el("h3", {}, "Reminders"), next, overdue,
    el("p", { class: "muted" }, "Checked every minute. A reminder only tells: it never starts a session."));
  const planBox = el("div", { id: "plan" }, "…");
  const weeksSelect = el("select", { id: "weeks" }, [2, 4, 8, 13, 26, 52].map((n) => el("option", { value: n, selected: n === 4 }, `${n} weeks`)));
  const adherenceBox = el("div", { id: "adherence" }, "…");
  const measureSelect = el("select", { id: "measure", required: true });
  const measureHelp = el("p", { id: "measure-help", class: "muted" });
  const siteLabel = el("label", { id: "site-label", hidden: true }, "Site ", el("input", { id: "site", placeholder: "left.calf" }));
  const formError = el("div", { id: "outcome-error", class: "error", role: "alert" });
  const outcomesBox = el("div", { id: "outcomes-list" });
  let measures = [];
  const chosen = () => measures.find((m) => m.name === measureSelect.value);
  const showMeasure = () => {
    const m = chosen();
    siteLabel.hidden = !(m && m.needs_site);
    measureHelp.textContent = m ? `${m.says} (${/^\d/.test(m.unit) ? m.unit : `${m.low}-${m.high} ${m.unit}`})` : "";
  };
  measureSelect.addEventListener("change", showMeasure);
  const outcomeForm = el("form", { id: "outcome-form", onsubmit: async (event) => {
    event.preventDefault();
    const f = event.target, m = chosen();
    formError.textContent = "";
    const body = { measure: measureSelect.value, value: Number(f.querySelector("#value").value), note: f.querySelector("#note").value };
    if (m && m.needs_site) body.site = f.querySelector("#site").value.trim();
    try {
      await api(`${path}/outcomes`, { json: body });
      f.querySelector("#value").value = ""; f.querySelector("#note").value = "";
      await loadOutcomes();
    } catch (error) { formError.textContent = error.message; }
  } },
  el("label", {}, "Measure ", measureSelect),
  el("label", {}, "Value ", el("input", { id: "value", type: "number", step: "any", required: true, style: "width:6em" })),
  siteLabel,
  el("label", {}, "Note ", el("input", { id: "note", maxlength: 500, placeholder: "a few words" })),
  el("button", { class: "primary", type: "submit", id: "log-outcome" }, "Log"), measureHelp, formError);

  view.replaceChildren(el("h1", {}, "Record"), userForm,
    el("div", { class: "row" }, remindersCard, el("div", { class: "card" }, el("h3", {}, "Plan"), planBox)),
    el("div", { class: "card" }, el("h3", {}, "Adherence ", el("label", { class: "muted" }, "over ", weeksSelect)),
      el("p", { class: "muted" }, "Counted: the time with the garment on and every cell at its pressure, before any fault."),
      adherenceBox),
    el("div", { class: "card" }, el("h3", {}, "Outcomes"), outcomeForm, outcomesBox));

  // each part loads on its own and shows its own error, so one failing never hides the others
  const into = (box, load) => load().catch((error) => { box.replaceChildren(); showError(error, box); });
  const loadReminders = () => into(next, async () => {
    const r = await api(`${path}/reminders`);
    next.textContent = !r.planned ? `No plan for user ${user}: nothing to remind.`
      : r.next ? `Next: ${r.next.text}` : "Next: nothing planned in the coming week.";
    overdue.replaceChildren(...r.overdue.map((d) => el("li", { class: "warn" }, `Due: ${d.text}`)));
  });
  const loadPlan = () => into(planBox, async () => {
    const { versions } = await api(`${path}/plan`);
    if (!versions.length) {
      planBox.replaceChildren(el("p", { class: "muted" }, `No plan for user ${user} (legflow plan set FILE --user ${user}).`));
      return;
    }
    const current = versions[versions.length - 1];
    planBox.replaceChildren(...[
      el("p", { id: "plan-set-by" }, `Set by ${current.set_by} (${current.role}) at ${current.at.replace("T", " ").replace("+00:00", " UTC")}`),
      current.plan.note ? el("p", { class: "muted", id: "plan-note" }, current.plan.note) : null,
      el("ul", { id: "plan-lines" }, current.lines.map((line) => el("li", {}, line))),
      el("p", {}, "Bounds:"), el("ul", { id: "plan-bounds" }, planBounds(current.plan.bounds).map((line) => el("li", {}, line))),
      versions.length > 1 ? el("details", {}, el("summary", {}, `${versions.length - 1} earlier version(s)`),
        el("ul", {}, versions.slice(0, -1).reverse().map((v) => el("li", {}, `${v.at} by ${v.set_by} (${v.role}): ${v.lines.length} session line(s)`)))) : null,
    ].filter(Boolean));
  });
  const loadAdherence = () => into(adherenceBox, async () => {
    const record = await api(`${path}/adherence?weeks=${weeksSelect.value}`);
    const zones = Object.entries(record.zone_minutes_at_pressure);
    adherenceBox.replaceChildren(
      el("div", { class: "scroll" }, adherenceCalendar(record)), calendarLegend(),
      el("p", { id: "streaks", class: "big" }, `Streak: ${record.streak_days} day(s) met in a row; longest ${record.longest_streak_days}`),
      zones.length ? el("div", {}, el("p", {}, "Minutes at pressure per zone (the leg with less):"),
        scrolling(el("table", { id: "zone-minutes" }, el("tr", {}, zones.map(([zone]) => el("th", {}, zone))),
          el("tr", {}, zones.map(([, value]) => el("td", {}, minutes(value)))))))
        : el("p", { class: "muted", id: "zone-minutes" }, "No minutes at pressure in these weeks."));
  });
  const loadOutcomes = () => into(outcomesBox, async () => {
    const rows = await api(`${path}/outcomes`);
    outcomesBox.replaceChildren(rows.length ? scrolling(el("table", { id: "outcomes" },
      el("tr", {}, ["at (UTC)", "measure", "site", "value", "note"].map((h) => el("th", {}, h))),
      rows.slice().reverse().map((o) => el("tr", {}, el("td", {}, o.at.replace("T", " ").replace("+00:00", "")), el("td", {}, o.measure),
        el("td", {}, o.site), el("td", {}, inUnit(o.value, o.unit)), el("td", { class: "note" }, o.note)))))
      : el("p", { class: "muted", id: "outcomes" }, "Nothing logged yet."));
  });
  const loadMeasures = () => into(formError, async () => {
    measures = await api("/measures");
    measureSelect.replaceChildren(...measures.map((m) => el("option", { value: m.name }, `${m.name} (${m.unit})`)));
    showMeasure();
  });
  weeksSelect.addEventListener("change", loadAdherence);

  const timer = setInterval(() => { if (view.isConnected) loadReminders(); else clearInterval(timer); }, REMINDER_POLL_MS);
  await Promise.all([loadReminders(), loadPlan(), loadAdherence(), loadOutcomes(), loadMeasures()]);
  view.dataset.loaded = "true";
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------------------------------------
// routing

const ROUTES = [
  [/^#\/program\/([\w-]+)$/, programView],
  [/^#\/editor(?:\/([\w-]+))?$/, editorView],
  [/^#\/screening$/, screeningView],
  [/^#\/live$/, liveView],
  [/^#\/history\/(\d+)$/, sessionView],
  [/^#\/history$/, historyView],
  [/^#\/record$/, recordView],
  [/^#\/programs$/, programsView],
];
let leave = null;

async function route() {
  const [path, query] = (location.hash || "#/programs").split("?");
  const params = new URLSearchParams(query || "");
  if (leave) { leave(); leave = null; }
  const mine = currentOutlet = el("div");
  main.replaceChildren(mine);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", path.startsWith(a.getAttribute("href")));
  for (const [pattern, render] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    try { leave = (await render(params, ...match.slice(1))) || null; }
    catch (error) { mine.replaceChildren(el("h1", {}, "Something went wrong")); showError(error, mine); }
    return;
  }
  location.hash = "#/programs";
}

window.addEventListener("hashchange", route);
armEmergencyStop();
connect();
route();
