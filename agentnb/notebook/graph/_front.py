"""The graph widget's front-end: a small ES module and its CSS, run by anywidget in the browser.

What the browser side does (everything else is drawn in Python):

* shows the kernel's HTML (``drawing``: the graph as last laid out, recoloured
  in place by ``patch``; ``timeline``: the timeline)
  with a toolbar: Graph / Timeline, Fit, zoom out (−) and in (+);
* zoom and pan act on the drawing's SVG ``viewBox`` and survive redraws:
  Ctrl/⌘ + wheel zooms around the pointer, dragging pans once zoomed in,
  a double click zooms in there, Fit shows the whole drawing again;
* when the kernel behind it restarts, dies or is shut down, it says so in
  words above the last picture (ipywidgets would show only a broken-link icon;
  on a shut-down kernel, nothing at all);
* hides the static copy that follows it in the same cell while it is live
  (the copy is for saved notebooks, exports and nbviewer);
* keeps that copy up to date in the notebook itself (JupyterLab): the kernel
  updates it through its display id, which a page that was reloaded no longer
  knows, so the page writes the kernel's latest copy (``saved``) into the
  notebook's output too, and the saved file keeps following the live graph.

No message goes to the kernel: zooming works while a cell runs.
"""

from __future__ import annotations

import json

from ._dot import STYLE
from ._template import CRITICAL_WIDTH

_ESM = r"""
const DEAD = "The kernel that drew this graph has stopped: this is its last picture. " +
  "Run the cell again to follow a new session.";

const XLINK = "http://www.w3.org/1999/xlink";

// Recolour one node or edge group as the kernel's template would have drawn it.
function paint(svg, id, [kind, state, critical, tip, label]) {
  const g = svg.querySelector("#" + id);
  if (!g) return;
  const [stroke, fill] = STYLE[state];
  g.setAttribute("class", (kind === "n" ? "node" : "edge") + " agentnb-state-" + state +
                 (critical ? " agentnb-critical" : ""));
  for (const shape of g.querySelectorAll("path, polygon, ellipse")) {
    if (shape.hasAttribute("stroke") && shape.getAttribute("stroke") !== "transparent") {
      shape.setAttribute("stroke", stroke);
      if (critical) shape.setAttribute("stroke-width", String(WIDTH));
      else shape.removeAttribute("stroke-width");
    }
    if (kind === "n" && shape.getAttribute("fill") !== "none") shape.setAttribute("fill", fill);
    if (kind === "e" && shape.tagName === "polygon") shape.setAttribute("fill", stroke);
  }
  g.querySelector("a")?.setAttributeNS(XLINK, "title", tip);
  const text = kind === "e" ? g.querySelector("text") : null;
  if (text) text.textContent = label;
}

// The kernel behind the widget: JupyterLab's notebook widget manager knows its session.
function watchKernel(model, gone) {
  const manager = model.widget_manager;
  const session = manager?.context?.sessionContext;
  if (session?.kernelChanged) {  // Kernel > Shut Down Kernel: the session's kernel becomes null
    const changed = (_, change) => { if (!change.newValue) gone(); };
    const status = (_, value) => { if (value === "dead") gone(); };
    session.kernelChanged.connect(changed);
    session.statusChanged.connect(status);
    return () => { session.kernelChanged.disconnect(changed); session.statusChanged.disconnect(status); };
  }
  const kernel = manager?.kernel;  // other front ends' managers hold the kernel itself
  if (kernel?.statusChanged) {
    const status = (_, value) => { if (value === "dead") gone(); };
    kernel.statusChanged.connect(status);
    return () => kernel.statusChanged.disconnect(status);
  }
  return () => {};
}

// Write the kernel's latest static copy into the notebook's output that holds this graph's copy.
function keepSaved(model) {
  const notebook = model.widget_manager?.context?.model;
  const saved = model.get("saved");
  if (!notebook?.cells || !saved?.id) return;
  const mark = `data-agentnb-graph="${saved.id}"`;
  const html = saved.bundle["text/html"];
  for (let i = 0; i < notebook.cells.length; i++) {
    const outputs = notebook.cells.get(i).outputs;
    for (let j = 0; j < (outputs?.length ?? 0); j++) {
      const shown = outputs.get(j).data?.["text/html"];
      const text = Array.isArray(shown) ? shown.join("") : shown;
      if (typeof text === "string" && text.includes(mark) && text !== html) {
        outputs.set(j, { output_type: "display_data", data: saved.bundle, metadata: {} });
      }
    }
  }
}

function render({ model, el }) {
  el.classList.add("agentnb-live");
  const bar = document.createElement("div");
  bar.className = "agentnb-toolbar";
  const button = (text, title, onClick) => {
    const b = document.createElement("button");
    b.textContent = text;
    b.title = title;
    b.className = "agentnb-btn";
    b.addEventListener("click", onClick);
    bar.appendChild(b);
    return b;
  };
  const graphButton = button("Graph", "agents and the messages between them", () => show("graph"));
  const timelineButton = button("Timeline", "one lane per agent: when it ran and when it waited",
                                () => show("timeline"));
  button("Fit", "show the whole graph", () => { box = null; apply(); });
  button("\u2212", "zoom out", () => zoom(1.25));
  button("+", "zoom in (or Ctrl + wheel; drag to pan)", () => zoom(0.8));
  const dead = document.createElement("div");
  dead.className = "agentnb-dead-note";
  const graph = document.createElement("div");
  graph.className = "agentnb-graph-view";
  const timeline = document.createElement("div");
  timeline.className = "agentnb-timeline-view";
  el.append(bar, dead, graph, timeline);

  let box = null;  // the user's viewBox [x, y, w, h]; null: fit the whole drawing
  const svg = () => graph.querySelector(".agentnb-fit > svg");
  const natural = (s) => s.dataset.natural.split(/[\s,]+/).map(Number);
  function apply() {
    const s = svg();
    if (!s) return;
    s.dataset.natural ??= s.getAttribute("viewBox");
    s.setAttribute("viewBox", box ? box.join(" ") : s.dataset.natural);
    graph.classList.toggle("agentnb-zoomed", box !== null);
  }
  function zoom(factor, at) {
    const s = svg();
    if (!s) return;
    const [x, y, w, h] = box ?? natural(s);
    const [cx, cy] = at ?? [x + w / 2, y + h / 2];
    const nw = natural(s)[2];
    if (w * factor > nw * 1.05) { box = null; apply(); return; }  // zoomed out past the whole: fit
    box = [cx - (cx - x) * factor, cy - (cy - y) * factor, w * factor, h * factor];
    apply();
  }
  function point(s, event) {
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(s.getScreenCTM().inverse());
    return [p.x, p.y];
  }
  graph.addEventListener("wheel", (event) => {
    const s = svg();
    if (!s || !(event.ctrlKey || event.metaKey)) return;  // plain wheel scrolls the notebook
    event.preventDefault();
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, point(s, event));
  }, { passive: false });
  graph.addEventListener("dblclick", (event) => {
    const s = svg();
    if (s) zoom(0.6, point(s, event));
  });
  let drag = null;
  graph.addEventListener("pointerdown", (event) => {
    const s = svg();
    if (!s || box === null) return;
    drag = { x: event.clientX, y: event.clientY, box: box.slice(), per: box[2] / s.clientWidth };
    graph.setPointerCapture(event.pointerId);
  });
  graph.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const [x, y, w, h] = drag.box;
    box = [x - (event.clientX - drag.x) * drag.per, y - (event.clientY - drag.y) * drag.per, w, h];
    apply();
  });
  graph.addEventListener("pointerup", () => { drag = null; });

  function show(view) {
    graph.hidden = view !== "graph";
    timeline.hidden = view !== "timeline";
    graphButton.classList.toggle("agentnb-on", view === "graph");
    timelineButton.classList.toggle("agentnb-on", view === "timeline");
  }
  // a whole drawing after each layout; then patches recolour it in place (a few bytes per change)
  let base = -1;
  const draw = () => {
    graph.innerHTML = model.get("drawing");
    base = model.get("drawing_seq");
    apply();
    patch();
  };
  function patch() {
    const p = model.get("patch");
    const s = svg();
    if (!p || p.base !== base) return;
    for (const [id, change] of Object.entries(p.changes ?? {})) if (s) paint(s, id, change);
    const notes = graph.querySelector(".agentnb-notes");
    if (p.notes && notes) notes.outerHTML = p.notes;
  }
  const drawTimeline = () => { timeline.innerHTML = model.get("timeline"); };
  model.on("change:drawing_seq", draw);
  model.on("change:patch", patch);
  model.on("change:timeline", drawTimeline);
  const died = () => { el.classList.add("agentnb-dead"); dead.textContent = DEAD; };
  // fires when the widget's connection to its kernel goes (a restart)
  model.on("comm_live_update", died);
  const unwatch = watchKernel(model, died);  // a shut-down kernel says nothing to the widget
  const save = () => { try { keepSaved(model); } catch (error) { console.warn("agentnb graph:", error); } };
  model.on("change:saved", save);
  draw();
  drawTimeline();
  show("graph");
  save();
  return () => { unwatch(); model.off("change:saved", save); };
}

export default { render };
"""

#: The module, with the state colours and the critical path's width the kernel draws with.
ESM = f"const STYLE = {json.dumps(STYLE)};\nconst WIDTH = {CRITICAL_WIDTH};\n" + _ESM

CSS = """
.jp-OutputArea-child:has(.agentnb-live) + .jp-OutputArea-child:has(.agentnb-static) { display: none; }
.agentnb-toolbar { display: flex; gap: 4px; align-items: center; margin: 0 0 4px 0; }
.agentnb-btn {
  font: 12px sans-serif; padding: 1px 8px; border: 1px solid #bdbdbd; border-radius: 3px;
  background: #fafafa; color: #424242; cursor: pointer;
}
.agentnb-btn:hover { background: #eeeeee; }
.agentnb-btn.agentnb-on { background: #e3f2fd; border-color: #1e88e5; }
.agentnb-graph-view .agentnb-fit { overflow: hidden; }
.agentnb-graph-view.agentnb-zoomed .agentnb-fit { cursor: grab; outline: 1px dashed #bdbdbd; }
.agentnb-graph-view [hidden], .agentnb-timeline-view[hidden], .agentnb-graph-view[hidden] { display: none; }
.agentnb-dead-note { display: none; }
.agentnb-dead .agentnb-dead-note {
  display: block; font: 12px sans-serif; color: #b71c1c; background: #ffebee;
  border: 1px solid #e53935; border-radius: 3px; padding: 3px 6px; margin-bottom: 4px;
}
.agentnb-dead .agentnb-graph-view, .agentnb-dead .agentnb-timeline-view { opacity: 0.75; }
"""
