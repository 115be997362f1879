// @ts-check
// The page: enter the API key, pick a namespace, see its graphs and runs, open a run (run-view.js).
// Navigation lives in the URL's fragment (#/ns/{ns}, #/ns/{ns}/run/{id}); the key never does.
import { ApiError, forgetKey, get, post, savedKey, saveKey, seg } from "./api.js";
import { fill, fmt, h, progressBar, statusBadge } from "./dom.js";
import { runView } from "./run-view.js";

const RUNS_PAGE = 20;
const root = /** @type {HTMLElement} */ (document.getElementById("app"));
const account = /** @type {HTMLElement} */ (document.getElementById("account"));

/** @type {() => void} */
let leave = () => {};

/** @param {unknown} e */
const errorText = (e) => (e instanceof Error ? e.message : String(e));

function route() {
  leave();
  leave = () => {};
  renderAccount();
  if (!savedKey()) return keyScreen();
  const [path = "", query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  if (parts[0] === "ns" && parts[1] && parts[2] === "run" && parts[3]) {
    leave = runView(root, parts[1], parts[3]);
  } else if (parts[0] === "ns" && parts[1]) {
    leave = namespaceView(parts[1], Math.max(1, Number(new URLSearchParams(query).get("page")) || 1));
  } else {
    void namespacesView();
  }
}

function renderAccount() {
  if (!savedKey()) return fill(account);
  fill(
    account,
    h(
      "button",
      {
        type: "button",
        onclick: () => {
          forgetKey();
          location.hash = "#/";
          route();
        },
      },
      "Forget the key",
    ),
  );
}

function keyScreen(/** @type {string} */ problem = "") {
  const input = h("input", {
    type: "password",
    id: "api-key",
    name: "api-key",
    autocomplete: "off",
    required: true,
    placeholder: "x-api-key",
  });
  const form = h(
    "form",
    { className: "key-form" },
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Open"),
    problem ? h("p", { className: "error", role: "alert" }, problem) : "",
    h(
      "p",
      { className: "muted" },
      "Kept in this browser tab only (session storage) and sent in the x-api-key header. " +
        "`npm start` prints the key it serves with.",
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    saveKey(/** @type {HTMLInputElement} */ (input).value.trim());
    try {
      await get("/v0/namespaces");
    } catch (e) {
      forgetKey();
      return keyScreen(
        e instanceof ApiError && e.status === 401 ? "The engine refused this key." : errorText(e),
      );
    }
    route();
  });
  fill(root, h("h2", {}, "Connect"), form);
  input.focus();
}

async function namespacesView() {
  const list = h("ul", { className: "namespaces" });
  const other = h("input", { id: "namespace", name: "namespace", placeholder: "namespace", required: true });
  const form = h(
    "form",
    { className: "inline" },
    h("label", { for: "namespace" }, "Or open a namespace by name "),
    other,
    h("button", { type: "submit" }, "Open"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/ns/${seg(/** @type {HTMLInputElement} */ (other).value.trim())}`;
  });
  fill(root, h("h2", {}, "Namespaces"), list, form);
  try {
    const { namespaces } = await get("/v0/namespaces");
    fill(
      list,
      ...(namespaces.length === 0
        ? [h("li", { className: "muted" }, "No namespace has registered nodes yet.")]
        : namespaces.map((/** @type {string} */ ns) => h("li", {}, h("a", { href: `#/ns/${seg(ns)}` }, ns)))),
    );
  } catch (e) {
    fill(list, h("li", { className: "error" }, errorText(e)));
  }
}

/**
 * @param {string} ns
 * @param {number} page
 * @returns {() => void}
 */
function namespaceView(ns, page) {
  const base = `/v0/namespace/${seg(ns)}`;
  const graphs = h("ul", { className: "graphs" });
  const runs = h("div", { className: "runs" });
  const message = h("p", { className: "message", role: "status" });
  fill(
    root,
    h("p", {}, h("a", { href: "#/" }, "← namespaces")),
    h("h2", {}, `Namespace ${ns}`),
    message,
    h("h3", {}, "Graphs"),
    graphs,
    h("h3", {}, "Runs ", h("button", { type: "button", onclick: () => void loadRuns() }, "Refresh")),
    runs,
  );

  async function loadGraphs() {
    try {
      const { templates } = await get(`${base}/graphs/`);
      fill(
        graphs,
        ...(templates.length === 0
          ? [h("li", { className: "muted" }, "No graph templates.")]
          : templates.map((/** @type {{ name: string, validation_status: string, nodes: unknown[] }} */ t) =>
              graphItem(t),
            )),
      );
    } catch (e) {
      fill(graphs, h("li", { className: "error" }, errorText(e)));
    }
  }

  /** @param {{ name: string, validation_status: string, nodes: unknown[] }} t */
  function graphItem(t) {
    const inputs = h("textarea", { rows: 2, cols: 50, "aria-label": `inputs for ${t.name}` }, "{}");
    const form = h(
      "form",
      { className: "trigger", hidden: true },
      h("label", {}, "Trigger inputs (a JSON object of strings) "),
      inputs,
      h("button", { type: "submit" }, "Trigger"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let parsed;
      try {
        parsed = JSON.parse(/** @type {HTMLTextAreaElement} */ (inputs).value || "{}");
      } catch {
        message.textContent = "The inputs are not JSON.";
        return;
      }
      try {
        const answer = await post(`${base}/graph/${seg(t.name)}/trigger`, { inputs: parsed });
        location.hash = `#/ns/${seg(ns)}/run/${seg(answer.run_id)}`;
      } catch (e) {
        message.textContent = `Trigger refused: ${errorText(e)}`;
      }
    });
    return h(
      "li",
      { "data-graph": t.name },
      h("strong", {}, t.name),
      " ",
      statusBadge(t.validation_status),
      ` ${fmt(t.nodes.length)} nodes `,
      h("button", { type: "button", onclick: () => form.toggleAttribute("hidden") }, "Trigger…"),
      form,
    );
  }

  async function loadRuns() {
    let answer;
    try {
      answer = await get(`${base}/runs/${page}/${RUNS_PAGE}`);
    } catch (e) {
      fill(runs, h("p", { className: "error" }, errorText(e)));
      return;
    }
    const pages = Math.max(1, Math.ceil(answer.total / RUNS_PAGE));
    const rows = answer.runs.map((/** @type {Record<string, any>} */ r) =>
      h(
        "tr",
        { "data-run-id": r.run_id },
        h("td", {}, h("a", { href: `#/ns/${seg(ns)}/run/${seg(r.run_id)}` }, r.run_id)),
        h("td", {}, r.graph_name),
        h("td", {}, statusBadge(r.status)),
        h(
          "td",
          { className: "bar-cell" },
          progressBar({
            success: r.success_count,
            failed: r.errored_count,
            pending: r.pending_count,
            total: r.total_count,
          }),
        ),
        h("td", { className: "num" }, fmt(r.success_count)),
        h("td", { className: "num" }, fmt(r.pending_count)),
        h("td", { className: "num" }, fmt(r.errored_count)),
        h("td", { className: "num" }, fmt(r.total_count)),
        h("td", {}, r.created_at),
      ),
    );
    fill(
      runs,
      h(
        "table",
        { className: "runs-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...[
              "run",
              "graph",
              "status",
              "progress",
              "succeeded",
              "pending",
              "failed",
              "states",
              "created (UTC)",
            ].map((t) => h("th", {}, t)),
          ),
        ),
        h("tbody", {}, ...rows),
      ),
      rows.length === 0 ? h("p", { className: "muted" }, "No runs on this page.") : "",
      h(
        "p",
        { className: "pager" },
        page > 1 ? h("a", { href: `#/ns/${seg(ns)}?page=${page - 1}` }, "← newer") : "",
        ` page ${page} of ${pages} (${fmt(answer.total)} runs) `,
        page < pages ? h("a", { href: `#/ns/${seg(ns)}?page=${page + 1}` }, "older →") : "",
      ),
    );
  }

  void loadGraphs();
  void loadRuns();
  // While some listed run is still going, refresh the list every few seconds; stop when leaving.
  const timer = setInterval(() => {
    if (runs.querySelector(".status-pending")) void loadRuns();
  }, 5000);
  return () => clearInterval(timer);
}

window.addEventListener("hashchange", route);
route();
