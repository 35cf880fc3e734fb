// The harness panel above Locust's web UI (served by locustfiles/harness_panel.py).
// It polls GET ./harness/session every 2 s and draws: the session (strategy, seeded bug,
// report folder), the stack's active faults, a form to inject one (POST ./harness/faults) or
// heal all, and a chart of requests/s and failures/s with the fault windows shaded and the
// first violations marked. It lives outside Locust's React root, so React never redraws it.
(function () {
  "use strict";
  const POLL_MS = 2000;
  const css = `
  #hp{font:13px/1.4 system-ui,sans-serif;background:#1b2330;color:#e8edf3;padding:8px 16px;
      border-bottom:3px solid #3a4b63}
  #hp .row{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;margin:2px 0}
  #hp b{color:#9fb6d4;font-weight:600;margin-right:4px}
  #hp .chip{display:inline-block;border-radius:10px;padding:1px 9px;margin:0 4px 0 0}
  #hp .fault{background:#8a2b2b}
  #hp .ok{background:#285b35}
  #hp .bad{background:#b32020;font-weight:700}
  #hp select,#hp input,#hp button{font:inherit;background:#2a3444;color:#e8edf3;
      border:1px solid #4a5b73;border-radius:4px;padding:2px 6px}
  #hp button{cursor:pointer;background:#3b5a86}
  #hp button.heal{background:#2f6b45}
  #hp .msg{color:#ffd27a}
  #hp svg{display:block;width:100%;height:110px;margin-top:4px;background:#141a24}
  #hp .legend span{margin-right:14px}`;

  const el = (tag, attrs = {}, text = "") => {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    if (text) node.textContent = text;
    return node;
  };
  const svgEl = (tag, attrs) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    return node;
  };

  const style = el("style");
  style.textContent = css;
  document.head.appendChild(style);
  const panel = el("div", { id: "hp" });
  const head = el("div", { class: "row" });
  const faults = el("div", { class: "row" });
  const form = el("form", { class: "row" });
  const legend = el("div", { class: "row legend" });
  const chart = svgEl("svg", { viewBox: "0 0 1000 110", preserveAspectRatio: "none" });
  panel.append(head, faults, form, legend, chart);
  document.body.insertBefore(panel, document.body.firstChild);

  const kind = el("select", { name: "fault", "aria-label": "fault" });
  const target = el("select", { name: "target", "aria-label": "target" });
  const forS = el("input", { name: "for_s", type: "number", min: "1", max: "600", value: "15",
                             style: "width:5em", "aria-label": "seconds" });
  const inject = el("button", { type: "submit" }, "Inject fault");
  const heal = el("button", { type: "button", class: "heal" }, "Heal all");
  const msg = el("span", { class: "msg" });
  form.append(el("b", {}, "Inject:"), kind, el("span", {}, "on"), target, el("span", {}, "for"),
              forS, el("span", {}, "s"), inject, heal, msg);
  legend.innerHTML = '<span style="color:#5ec27a">━ requests/s</span>' +
    '<span style="color:#ff6b6b">━ failures/s</span>' +
    '<span style="color:#e0a040">▮ fault window</span>' +
    '<span style="color:#ff4d4d">┃ invariant first violated</span>';

  let kinds = {};
  const fillTargets = () => {
    const targets = (kinds[kind.value] || {}).targets || [];
    target.replaceChildren(...targets.map((t) => el("option", { value: t }, t)));
  };
  kind.addEventListener("change", fillTargets);

  const post = async (path, body) => {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                  body: JSON.stringify(body || {}) });
    const doc = await r.json().catch(() => ({}));
    return [r.ok, doc];
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.textContent = "injecting…";
    const [ok, doc] = await post("./harness/faults",
      { fault: kind.value, target: target.value, for_s: Number(forS.value) });
    msg.textContent = ok ? `${doc.fault} on ${doc.target} for ${doc.for_s}s`
                         : `not applied: ${doc.detail || doc.title || "error"}`;
    poll();
  });
  heal.addEventListener("click", async () => {
    msg.textContent = "healing…";
    const [ok, doc] = await post("./harness/heal");
    msg.textContent = ok ? `healed: ${doc.healed}` : `heal failed: ${doc.detail || "error"}`;
    poll();
  });

  const fmt = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
  const chip = (cls, text) => el("span", { class: `chip ${cls}` }, text);

  function drawHead(doc) {
    const up = doc.started_wall ? fmt(Date.now() / 1000 - doc.started_wall) : "-";
    head.replaceChildren(
      el("span", {}, ""), Object.assign(el("b", {}, "booking-harness")),
      el("span", {}, `strategy ${doc.strategy || "-"}`),
      chip(doc.bug ? "bad" : "ok", `bug ${doc.bug || "none"}`),
      el("span", {}, `session ${up}`),
      el("span", { title: doc.run_dir || "" },
         `report → reports/${doc.run_id || "-"} (at the end)`));
    const outcomes = (doc.outcomes || []).map(([k, v]) => `${k} ${v}`);
    if (outcomes.length) head.append(el("span", {}, `outcomes: ${outcomes.join(" · ")}`));
    const violated = doc.violated || [];
    if (violated.length) head.append(chip("bad", `violated: ${violated.map((v) => v.name).join(", ")}`));
    const active = doc.active || [];
    faults.replaceChildren(el("b", {}, "Active faults:"),
      ...(active.length ? active.map((f) => chip("fault", `${f.fault} → ${f.target}` +
                                                  (f.detail ? ` (${f.detail})` : "")))
                        : [chip("ok", "none")]),
      ...(doc.fault_errors || []).map((e) => el("span", { class: "msg" }, e)));
  }

  function drawChart(doc) {
    chart.replaceChildren();
    const pts = (doc.chart || []).map(([t, rps, fails]) => [Date.parse(t) / 1000, rps, fails]);
    const start = doc.started_wall || (pts.length ? pts[0][0] : Date.now() / 1000);
    const end = Math.max(Date.now() / 1000, start + 60);
    const x = (wall) => ((wall - start) / (end - start)) * 1000;
    const top = Math.max(1, ...pts.map((p) => Math.max(p[1], p[2])));
    const y = (v) => 104 - (v / top) * 96;
    const now = Date.now() / 1000;
    (doc.windows || []).forEach((w, i) => {
      const a = x(start + w.start_s), b = x(w.end_s == null ? now : start + w.end_s);
      const rect = svgEl("rect", { x: a, y: 0, width: Math.max(2, b - a), height: 110,
                                   fill: "#e0a040", "fill-opacity": 0.28 });
      const title = svgEl("title", {});
      title.textContent = `${w.name} → ${w.target}`;
      rect.appendChild(title);
      chart.appendChild(rect);
      // labels on three staggered rows, so that nearby windows do not print over each other
      const label = svgEl("text", { x: a + 3, y: 26 + (i % 3) * 12, fill: "#f0c070",
                                    "font-size": 10 });
      label.textContent = `${w.name}→${w.target}`;
      chart.appendChild(label);
    });
    for (const [i, key] of [[1, "#5ec27a"], [2, "#ff6b6b"]]) {
      if (pts.length < 2) break;
      chart.appendChild(svgEl("polyline", {
        points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[i]).toFixed(1)}`).join(" "),
        fill: "none", stroke: key, "stroke-width": 1.6, "vector-effect": "non-scaling-stroke" }));
    }
    for (const v of doc.violated || []) {
      const line = svgEl("line", { x1: x(v.wall), x2: x(v.wall), y1: 0, y2: 110,
                                   stroke: "#ff4d4d", "stroke-width": 2,
                                   "vector-effect": "non-scaling-stroke" });
      const title = svgEl("title", {});
      title.textContent = `${v.name} first violated`;
      line.appendChild(title);
      chart.appendChild(line);
    }
    const label = svgEl("text", { x: 4, y: 12, fill: "#9fb6d4", "font-size": 11 });
    label.textContent = `max ${top.toFixed(1)}/s · session ${fmt(now - start)}`;
    chart.appendChild(label);
  }

  // Locust's header rounds the failure ratio to a whole percent ("0%" with failures): show
  // the exact figure in its place. React later rewrites the same text node, so a
  // MutationObserver puts the exact figure back each time.
  let exact = null;
  const observed = new WeakSet();
  function fixFailures(doc) {
    const n = doc.requests || 0, f = doc.failures || 0;
    if (!n) { exact = null; return; }
    const pct = (100 * f) / n;
    exact = `${pct === 0 ? "0" : pct < 1 ? pct.toFixed(2) : pct.toFixed(1)}% (${f}/${n})`;
    for (const label of document.querySelectorAll("#root *")) {
      if (label.childElementCount || label.textContent !== "Failures") continue;
      const value = label.nextElementSibling && label.nextElementSibling.firstChild;
      // the header's value ("0%"), not the Failures tab
      if (!value || value.nodeType !== Node.TEXT_NODE || !value.nodeValue.includes("%")) continue;
      if (value.nodeValue !== exact) value.nodeValue = exact;
      if (!observed.has(value)) {
        observed.add(value);
        new MutationObserver(() => {
          if (exact && value.nodeValue !== exact) value.nodeValue = exact;
        }).observe(value, { characterData: true });
      }
    }
  }

  async function poll() {
    let doc;
    try {
      doc = await (await fetch("./harness/session")).json();
    } catch (e) {
      head.replaceChildren(el("span", { class: "msg" }, "harness session: not reachable"));
      return;
    }
    if (!Object.keys(kinds).length && doc.fault_kinds) {
      kinds = doc.fault_kinds;
      kind.replaceChildren(...Object.keys(kinds).map((k) =>
        el("option", { value: k, title: kinds[k].doc }, k)));
      fillTargets();
    }
    form.style.display = doc.session ? "" : "none";
    drawHead(doc);
    drawChart(doc);
    fixFailures(doc);
  }
  poll();
  setInterval(poll, POLL_MS);
})();
