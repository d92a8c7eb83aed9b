// The llm-rotate dashboard: polls /ui/state every second and updates the page in place.
// Everything shown is set with textContent or SVG attributes, never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const rows = new Map();

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function seconds(ms) {
  return ms === null || ms === undefined ? "" : " · " + Math.ceil(ms / 1000) + "s";
}

function stateText(key) {
  switch (key.state) {
    case "cooling_down":
      return "cooling down" + seconds(key.available_in_ms);
    case "quarantined":
      return "quarantined" + seconds(key.available_in_ms) + (key.probing ? " · probing" : "");
    case "disabled":
      return "disabled (" + (key.disabled_reason || "operator") + ")";
    default:
      return "healthy";
  }
}

function failureText(key) {
  const kinds = Object.entries(key.failures_by_kind || {}).map(([kind, n]) => kind + " " + n);
  return String(key.failures) + (kinds.length ? " (" + kinds.join(", ") + ")" : "");
}

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

async function setEnabled(id, enabled) {
  const action = enabled ? "enable" : "disable";
  const response = await fetch("/admin/keys/" + encodeURIComponent(id) + "/" + action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "x-llm-rotate-ui": "1" },
  });
  if (!response.ok) setStatus("could not " + action + " " + id + " (" + response.status + ")");
  await refresh();
}

function keyRow(key) {
  let row = rows.get(key.key_id);
  if (!row) {
    row = el("tr");
    row.dataset.key = key.key_id;
    for (let i = 0; i < 8; i++) row.append(el("td"));
    row.cells[2].className = "state";
    const button = el("button");
    button.type = "button";
    button.addEventListener("click", () => setEnabled(key.key_id, row.dataset.state === "disabled"));
    const cell = el("td");
    cell.append(button);
    row.append(cell);
    rows.set(key.key_id, row);
  }
  return row;
}

function renderKeys(keys) {
  const body = document.querySelector("#keys tbody");
  const seen = new Set();
  for (const key of keys) {
    seen.add(key.key_id);
    const row = keyRow(key);
    row.className = key.state;
    row.dataset.state = key.state;
    const cells = [
      key.key_id,
      key.provider,
      stateText(key),
      key.quota_group || "—",
      key.requests,
      failureText(key),
      key.latency_ms_ewma === null || key.latency_ms_ewma === undefined ? "—" : key.latency_ms_ewma.toFixed(0) + " ms",
      key.headroom === null || key.headroom === undefined ? "—" : Math.round(key.headroom * 100) + "%",
    ];
    cells.forEach((text, i) => {
      if (row.cells[i].textContent !== String(text)) row.cells[i].textContent = String(text);
    });
    row.title = key.last_error || "";
    row.querySelector("button").textContent = key.state === "disabled" ? "Enable" : "Disable";
    body.append(row);
  }
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.remove();
      rows.delete(id);
    }
  }
}

function polyline(values, max, width, height, color) {
  const line = document.createElementNS(SVG, "polyline");
  const step = width / Math.max(1, values.length - 1);
  line.setAttribute("points", values.map((v, i) => (i * step).toFixed(1) + "," + (height - (v * (height - 2)) / max - 1).toFixed(1)).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", color);
  line.setAttribute("stroke-width", "1.5");
  return line;
}

function renderCharts(id, series, bucketSeconds) {
  const container = document.getElementById(id);
  const charts = Object.entries(series).map(([name, data]) => {
    const total = data.requests.reduce((a, b) => a + b, 0);
    const failed = data.failures.reduce((a, b) => a + b, 0);
    const chart = el("div", null, "chart");
    const perMinute = (total / ((data.requests.length * bucketSeconds) / 60)).toFixed(1);
    const errors = total ? ((100 * failed) / total).toFixed(1) : "0.0";
    chart.append(el("div", name, "name"), el("div", total + " requests · " + perMinute + "/min · " + errors + "% errors", "figures"));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 240 48");
    svg.setAttribute("preserveAspectRatio", "none");
    const max = Math.max(1, ...data.requests);
    svg.append(polyline(data.requests, max, 240, 48, "#3e63dd"), polyline(data.failures, max, 240, 48, "#b42318"));
    chart.append(svg);
    return chart;
  });
  container.replaceChildren(...(charts.length ? charts : [el("p", "No traffic yet.", "empty")]));
}

function renderCost(usage) {
  const body = document.querySelector("#cost tbody");
  const lines = [["total", "all", usage.total]];
  for (const [by, map] of [["provider", usage.by_provider], ["model", usage.by_model], ["client", usage.by_client]]) {
    for (const [name, counters] of Object.entries(map || {})) lines.push([by, name, counters]);
  }
  body.replaceChildren(
    ...lines.map(([by, name, c]) => {
      const row = el("tr");
      row.append(el("td", by), el("td", name), el("td", c.requests), el("td", c.total_tokens), el("td", "$" + (c.cost_nano_usd / 1e9).toFixed(4)));
      return row;
    }),
  );
}

function renderFailures(failures) {
  const body = document.querySelector("#failures tbody");
  if (!failures.length) {
    const row = el("tr");
    const cell = el("td", "None in the last hour.", "empty");
    cell.colSpan = 4;
    row.append(cell);
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(
    ...failures.map((f) => {
      const row = el("tr");
      const count = f.count > 1 ? " ×" + f.count : "";
      row.append(el("td", new Date(f.at_ms).toLocaleTimeString()), el("td", f.key_id), el("td", f.kind + count), el("td", f.message, "message"));
      return row;
    }),
  );
}

async function refresh() {
  try {
    const response = await fetch("/ui/state", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) {
      window.location.assign("/ui");
      return;
    }
    const state = await response.json();
    renderKeys(state.health.keys);
    renderCharts("providers", state.series.providers, state.series.bucket_seconds);
    renderCharts("models", state.series.models, state.series.bucket_seconds);
    renderCost(state.usage);
    renderFailures(state.failures);
    setStatus("live · " + new Date().toLocaleTimeString() + (state.health.store.connected ? "" : " · store away"));
    document.body.dataset.updated = String(Date.now());
  } catch (error) {
    setStatus("disconnected; retrying");
  }
}

refresh();
setInterval(refresh, 1000);
