// @ts-check
// A few DOM helpers. Text from the engine is always set as text (never parsed as HTML).

/**
 * An element with attributes (`on*` functions become listeners; `false`/`null` attributes are left out)
 * and children (strings become text nodes).
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (name === "className") el.className = String(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "object" ? child : String(child));
  }
  return el;
}

/**
 * Replaces the children of `el`.
 * @param {Element} el
 * @param {...(Node | string)} children
 */
export function fill(el, ...children) {
  el.replaceChildren(...children);
}

/** @param {number} n */
export const fmt = (n) => n.toLocaleString("en-US");

/** The statuses a state can have, in the order the page shows them. */
export const STATUS_ORDER = [
  "CREATED",
  "QUEUED",
  "EXECUTED",
  "SUCCESS",
  "PRUNED",
  "ERRORED",
  "NEXT_CREATED_ERROR",
  "RETRY_CREATED",
  "CANCELLED",
];

/** @param {string} status */
export function statusBadge(status) {
  return h("span", { className: `badge status-${status.toLowerCase()}` }, status);
}

/**
 * A progress bar of a run or a node: the finished share of its states, split into succeeded (SUCCESS,
 * PRUNED), failed (ERRORED, NEXT_CREATED_ERROR) and superseded by a retry.
 * @param {{ success: number, failed: number, pending: number, total: number }} counts
 */
export function progressBar({ success, failed, pending, total }) {
  const done = total - pending;
  const bar = h("div", {
    className: "progress",
    role: "progressbar",
    "aria-valuemin": 0,
    "aria-valuemax": total,
    "aria-valuenow": done,
    "aria-label": `${fmt(done)} of ${fmt(total)} states finished`,
    title: `${fmt(done)} of ${fmt(total)} states finished`,
  });
  const pct = (/** @type {number} */ n) => `${total === 0 ? 0 : (100 * n) / total}%`;
  for (const [kind, n] of [
    ["success", success],
    ["failed", failed],
    ["other", done - success - failed],
  ]) {
    const part = h("div", { className: `progress-${kind}` });
    // Through the CSSOM: the page's Content-Security-Policy allows no inline style attributes.
    part.style.width = pct(/** @type {number} */ (n));
    bar.append(part);
  }
  return bar;
}
