// What a waiting run waits on, in words, from the engine's `waiting` field (the runs list and the live run
// view carry it once a PENDING run has had no state end for 30 s): each node, how many of its states wait
// and since when, and who should serve it. Shared by the demo and the CLI.

/** A node counts as unserved when nobody registered it, or no runtime polled for it or ran it lately. */
export const UNSERVED_AFTER_MS = 60_000;

const naive = (iso) => Date.parse(iso.endsWith("Z") ? iso : `${iso}Z`);

export function isUnserved(node, now = Date.now()) {
  if (node.runtime_name === null || node.last_seen_at === null) return true;
  return now - naive(node.last_seen_at) > UNSERVED_AFTER_MS;
}

/** One clause per waiting node. */
export function describeWaiting(waiting, now = Date.now()) {
  return waiting
    .map((w) => {
      const what = `${w.states} state(s) of node ${w.node_name} (${w.identifier}, namespace ${w.namespace}) wait since ${w.since}`;
      if (w.runtime_name === null) return `${what}; no runtime has registered ${w.node_name}`;
      const runtime = `${w.transport === "pull" ? "pull" : "queue"} runtime "${w.runtime_name}"`;
      if (w.last_seen_at === null) return `${what}; ${runtime} is registered for it but has never served it`;
      const ago = Math.round((now - naive(w.last_seen_at)) / 1000);
      return `${what}; ${runtime} last served it ${ago} s ago (${w.last_seen_at})`;
    })
    .join("; ");
}

/** True when the engine says the run waits and none of the nodes it waits on is being served. */
export function waitsOnUnserved(view, now = Date.now()) {
  return (
    Array.isArray(view.waiting) && view.waiting.length > 0 && view.waiting.every((w) => isUnserved(w, now))
  );
}
