// @ts-check
// One run: its counts and progress, the graph of its nodes with each node's states counted by status, kept
// live by the engine's event stream; a node's states a page at a time; a state's inputs, outputs and error;
// manual retry of a failed state and, when the engine offers it, cancel.
import { ApiError, events, get, hasOperation, post, seg } from "./api.js";
import { fill, fmt, h, progressBar, STATUS_ORDER, statusBadge } from "./dom.js";
import { layout } from "./graph-layout.js";

const STATES_PAGE = 50;
const RETRYABLE = new Set(["ERRORED", "NEXT_CREATED_ERROR", "PRUNED"]);
const CANCEL_PATH = "/v0/namespace/{namespace}/states/run/{run_id}/cancel";

/**
 * @typedef {{ identifier: string, node_name: string, next_nodes: string[],
 *   unites: { identifier: string, strategy: string } | null, states: Record<string, number>, total: number }} NodeProgress
 * @typedef {{ run_id: string, graph_name: string, namespace: string, status: string, success_count: number,
 *   pending_count: number, errored_count: number, retried_count: number, total_count: number,
 *   created_at: string, warnings?: string[], nodes: NodeProgress[] }} RunNodes
 */

/**
 * Renders the run into `root`; answers a function that stops its live updates.
 * @param {HTMLElement} root
 * @param {string} ns
 * @param {string} runId
 * @returns {() => void}
 */
export function runView(root, ns, runId) {
  const base = `/v0/namespace/${seg(ns)}`;
  const runPath = `${base}/states/run/${seg(runId)}`;
  const stop = new AbortController();

  const header = h("section", { className: "run-header" });
  const message = h("p", { className: "message", role: "status" });
  const graph = h("div", { className: "graph", "aria-label": "nodes of the run" });
  const panel = h("section", { className: "node-panel" });
  const details = h("section", { className: "state-details" });
  fill(
    root,
    h("p", {}, h("a", { href: `#/ns/${seg(ns)}` }, `← runs of ${ns}`)),
    header,
    message,
    graph,
    panel,
    details,
  );

  /** @type {RunNodes | null} */
  let view = null;
  /** @type {Map<string, HTMLElement>} */
  const cards = new Map();
  /** @type {string | null} */
  let selected = null;
  let live = false;

  const say = (/** @type {string} */ text, /** @type {boolean} */ error = false) => {
    message.textContent = text;
    message.classList.toggle("error", error);
  };

  function renderHeader() {
    if (!view) return;
    const v = view;
    const cancel = h("button", { type: "button", className: "cancel", hidden: true }, "Cancel run");
    cancel.addEventListener("click", async () => {
      cancel.setAttribute("disabled", "");
      try {
        const answer = await post(`${runPath}/cancel`);
        say(`Cancel: the engine answered ${answer.status ?? JSON.stringify(answer)}.`);
        void follow();
      } catch (e) {
        say(`Cancel refused: ${errorText(e)}`, true);
      }
    });
    if (v.status === "PENDING") {
      void hasOperation("post", CANCEL_PATH).then((offered) => {
        if (offered) cancel.hidden = false;
      });
    }
    fill(
      header,
      h("h2", {}, `Run of ${v.graph_name} `, statusBadge(v.status)),
      h(
        "p",
        { className: "run-meta" },
        h("code", {}, v.run_id),
        ` · created ${v.created_at} UTC · `,
        h(
          "span",
          { className: live ? "live on" : "live", "data-testid": "live" },
          live ? "live" : v.status === "PENDING" ? "connecting…" : "finished",
        ),
      ),
      progressBar({
        success: v.success_count,
        failed: v.errored_count,
        pending: v.pending_count,
        total: v.total_count,
      }),
      h(
        "p",
        { className: "run-counts", "data-testid": "run-counts" },
        `${fmt(v.success_count)} succeeded · ${fmt(v.pending_count)} pending · ${fmt(v.errored_count)} failed · ` +
          `${fmt(v.retried_count)} retried · ${fmt(v.total_count)} states`,
      ),
      ...(v.warnings ?? []).map((w) => h("p", { className: "warning" }, w)),
      cancel,
    );
  }

  /** @param {NodeProgress} node */
  function cardContent(node) {
    const failed = (node.states.ERRORED ?? 0) + (node.states.NEXT_CREATED_ERROR ?? 0);
    const success = (node.states.SUCCESS ?? 0) + (node.states.PRUNED ?? 0);
    const pending = (node.states.CREATED ?? 0) + (node.states.QUEUED ?? 0) + (node.states.EXECUTED ?? 0);
    const chips = STATUS_ORDER.filter((s) => (node.states[s] ?? 0) > 0).map((s) =>
      h(
        "span",
        { className: `chip status-${s.toLowerCase()}`, "data-status": s },
        `${s} ${fmt(node.states[s] ?? 0)}`,
      ),
    );
    return [
      h("div", { className: "node-title" }, node.identifier),
      h(
        "div",
        { className: "node-name" },
        node.node_name,
        node.unites ? ` · unites ${node.unites.identifier}` : "",
      ),
      progressBar({ success, failed, pending, total: node.total }),
      h(
        "div",
        { className: "chips" },
        ...(chips.length > 0 ? chips : [h("span", { className: "muted" }, "no states yet")]),
      ),
    ];
  }

  function renderGraph() {
    if (!view) return;
    const { columns, edges } = layout(view.nodes);
    const byId = new Map(view.nodes.map((n) => [n.identifier, n]));
    cards.clear();
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.classList.add("edges");
    const cols = columns.map((ids) =>
      h(
        "div",
        { className: "column" },
        ...ids.map((id) => {
          const node = byId.get(id);
          const card = h("button", {
            type: "button",
            className: "node-card",
            "data-node": id,
            onclick: () => selectNode(id),
          });
          if (node) card.append(...cardContent(node));
          cards.set(id, card);
          return card;
        }),
      ),
    );
    fill(graph, svg, ...cols);
    const draw = () => drawEdges(graph, svg, cards, edges);
    requestAnimationFrame(draw);
    window.addEventListener("resize", draw, { signal: stop.signal });
  }

  function updateCounts() {
    if (!view) return;
    for (const node of view.nodes) {
      const card = cards.get(node.identifier);
      if (card) card.replaceChildren(...cardContent(node));
    }
    for (const [id, card] of cards) card.classList.toggle("selected", id === selected);
  }

  /** @param {RunNodes} next */
  function show(next) {
    const shape = (/** @type {RunNodes | null} */ v) =>
      JSON.stringify(v?.nodes.map((n) => [n.identifier, n.next_nodes, n.unites]));
    const relayout = view === null || shape(view) !== shape(next);
    const changed =
      selected !== null && JSON.stringify(nodeOf(view, selected)) !== JSON.stringify(nodeOf(next, selected));
    view = next;
    renderHeader();
    if (relayout) renderGraph();
    updateCounts();
    // The open page of states follows the run too (at most once per event, so about once a second).
    if (changed) void loadStates(currentCursor);
  }

  // ---- live updates ----

  let following = false;
  async function follow() {
    if (following) return;
    following = true;
    try {
      while (!stop.signal.aborted) {
        let ended = false;
        try {
          for await (const event of events(`${runPath}/events`, stop.signal)) {
            if (!live) {
              live = true;
              renderHeader();
            }
            if (event.event === "progress") show(JSON.parse(event.data));
            else if (event.event === "end") {
              ended = true;
              break;
            } else if (event.event === "error") break;
          }
        } catch (e) {
          if (stop.signal.aborted) return;
          if (e instanceof ApiError && e.status >= 400 && e.status < 500) {
            say(`Live updates stopped: ${errorText(e)}`, true);
            return;
          }
        }
        live = false;
        renderHeader();
        if (ended) return;
        // Closed early (the engine ends streams after a while, or a hiccup): open it again shortly.
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } finally {
      following = false;
    }
  }

  // ---- a node's states, a page at a time ----

  /** @type {string | null} */
  let currentCursor = null;
  /** @type {(string | null)[]} */
  let cursors = [];

  /** @param {string} id */
  function selectNode(id) {
    selected = id;
    currentCursor = null;
    cursors = [];
    updateCounts();
    fill(details);
    void loadStates(null);
  }

  /** @param {string | null} cursor */
  async function loadStates(cursor) {
    if (selected === null) return;
    const node = selected;
    const query = new URLSearchParams({ identifier: node, limit: String(STATES_PAGE) });
    if (cursor) query.set("cursor", cursor);
    let page;
    try {
      page = await get(`${runPath}/graph?${query}`, { signal: stop.signal });
    } catch (e) {
      if (!stop.signal.aborted)
        fill(panel, h("p", { className: "error" }, `States of ${node}: ${errorText(e)}`));
      return;
    }
    if (selected !== node) return;
    currentCursor = cursor;
    const rows = page.nodes.map((/** @type {{ id: string, status: string, error: string | null }} */ s) =>
      h(
        "tr",
        { "data-state-id": s.id },
        h("td", {}, h("button", { type: "button", className: "link", onclick: () => showState(s.id) }, s.id)),
        h("td", {}, statusBadge(s.status)),
        h("td", { className: "error-cell" }, s.error ?? ""),
      ),
    );
    const pageNumber = cursors.length + 1;
    fill(
      panel,
      h("h3", {}, `States of ${node}`),
      h(
        "table",
        { className: "states" },
        h("thead", {}, h("tr", {}, h("th", {}, "state"), h("th", {}, "status"), h("th", {}, "error"))),
        h("tbody", {}, ...rows),
      ),
      rows.length === 0 ? h("p", { className: "muted" }, "No states on this page.") : "",
      h(
        "p",
        { className: "pager" },
        h(
          "button",
          {
            type: "button",
            disabled: cursors.length === 0,
            onclick: () => void loadStates(cursors.pop() ?? null),
          },
          "← previous",
        ),
        ` page ${pageNumber} `,
        h(
          "button",
          {
            type: "button",
            disabled: !page.next_cursor,
            onclick: () => {
              cursors.push(cursor);
              void loadStates(page.next_cursor);
            },
          },
          "next →",
        ),
      ),
    );
  }

  // ---- one state ----

  /** @param {string} stateId */
  async function showState(stateId) {
    if (!view) return;
    let s;
    try {
      s = await get(`${base}/graph/${seg(view.graph_name)}/run/${seg(runId)}/node/${seg(stateId)}`);
    } catch (e) {
      fill(details, h("p", { className: "error" }, `State ${stateId}: ${errorText(e)}`));
      return;
    }
    const retry = RETRYABLE.has(s.status)
      ? h(
          "button",
          { type: "button", className: "retry", onclick: () => retryState(s.id) },
          "Retry this state",
        )
      : "";
    fill(
      details,
      h("h3", {}, `State `, h("code", {}, s.id), " ", statusBadge(s.status)),
      h(
        "dl",
        {},
        h("dt", {}, "node"),
        h("dd", {}, `${s.identifier} (${s.node_name})`),
        h("dt", {}, "created / updated"),
        h("dd", {}, `${s.created_at} / ${s.updated_at} UTC`),
        h("dt", {}, "parents"),
        h(
          "dd",
          {},
          ...Object.entries(s.parents).flatMap(([identifier, id]) => [
            `${identifier}: `,
            h(
              "button",
              { type: "button", className: "link", onclick: () => showState(String(id)) },
              String(id),
            ),
            " ",
          ]),
        ),
      ),
      s.error ? h("div", {}, h("h4", {}, "Error"), h("pre", { className: "error-text" }, s.error)) : "",
      h("h4", {}, "Inputs"),
      h("pre", { className: "inputs" }, JSON.stringify(s.inputs, null, 2)),
      h("h4", {}, "Outputs"),
      h("pre", { className: "outputs" }, JSON.stringify(s.outputs, null, 2)),
      retry,
    );
  }

  /** @param {string} stateId */
  async function retryState(stateId) {
    try {
      // A fresh fanout id per retry: the engine keys the retry on it.
      const answer = await post(`${base}/state/${seg(stateId)}/manual-retry`, {
        fanout_id: crypto.randomUUID(),
      });
      say(`Retry created: state ${answer.id} (${answer.status}).`);
      await showState(stateId);
      void loadStates(currentCursor);
      void follow();
    } catch (e) {
      say(`Retry refused: ${errorText(e)}`, true);
    }
  }

  void (async () => {
    try {
      show(await get(`${runPath}/nodes`, { signal: stop.signal }));
    } catch (e) {
      if (!stop.signal.aborted) say(`Run ${runId}: ${errorText(e)}`, true);
      return;
    }
    void follow();
  })();

  return () => stop.abort();
}

/**
 * @param {RunNodes | null} view
 * @param {string} id
 */
const nodeOf = (view, id) => view?.nodes.find((n) => n.identifier === id);

/** @param {unknown} e */
const errorText = (e) => (e instanceof Error ? e.message : String(e));

/**
 * Draws the edges between the cards, from the right of the source to the left of the target.
 * @param {HTMLElement} container
 * @param {SVGSVGElement} svg
 * @param {Map<string, HTMLElement>} cards
 * @param {{ from: string, to: string, unites: boolean }[]} edges
 */
function drawEdges(container, svg, cards, edges) {
  const box = container.getBoundingClientRect();
  svg.setAttribute("width", String(container.scrollWidth));
  svg.setAttribute("height", String(container.scrollHeight));
  const paths = edges.flatMap((e) => {
    const a = cards.get(e.from)?.getBoundingClientRect();
    const b = cards.get(e.to)?.getBoundingClientRect();
    if (!a || !b) return [];
    const dx = container.scrollLeft - box.left;
    const dy = container.scrollTop - box.top;
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    if (e.unites) {
      // From the bottom of the united node to the bottom of the unite, in an arc under the cards between.
      const x1 = a.left + a.width / 2 + dx;
      const x2 = b.left + b.width / 2 + dx;
      const y1 = a.bottom + dy;
      const y2 = b.bottom + dy;
      const low = Math.max(y1, y2) + 36;
      path.setAttribute("d", `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`);
    } else {
      const x1 = a.right + dx;
      const y1 = a.top + a.height / 2 + dy;
      const x2 = b.left + dx;
      const y2 = b.top + b.height / 2 + dy;
      const mid = (x1 + x2) / 2;
      path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
    }
    path.setAttribute("class", e.unites ? "edge unites" : "edge");
    return [path];
  });
  svg.replaceChildren(...paths);
}
