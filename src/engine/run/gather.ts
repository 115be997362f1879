// A unite's array input over branch shards (design §4, §6): the subtree's values read from every actor of
// the run a page at a time, merged into fan-out order (lineage, then seq), as one JSON array. Memory is a
// page per actor plus the array being built.

/** One value as an actor lists it: its place in fan-out order, and whether the state has the field. */
export interface SubtreeItem {
  lineage: string;
  seq: number;
  /** Whether the state has the field at all (a state of an execution with no outputs has none). */
  has: boolean;
  value: unknown;
}

/** Reads one actor's values after a (lineage, seq) position (null: from the start), at most `page`. */
export type SubtreeReader = (after: { lineage: string; seq: number } | null) => Promise<SubtreeItem[]>;

/** Merges the actors' lists into one JSON array in fan-out order; a reader returning fewer than `page` is done. */
export async function gatherArray(readers: SubtreeReader[], page: number): Promise<string> {
  const sources = readers.map((read) => ({ read, items: [] as SubtreeItem[], at: 0, done: false }));
  let text = "[";
  let count = 0;
  for (;;) {
    await Promise.all(
      sources.map(async (s) => {
        if (s.at < s.items.length || s.done) return;
        const last = s.items[s.items.length - 1];
        s.items = await s.read(last ? { lineage: last.lineage, seq: last.seq } : null);
        s.at = 0;
        if (s.items.length < page) s.done = true;
      }),
    );
    // The next value in fan-out order: the smallest (lineage, seq) at the head of any source.
    let next: (typeof sources)[number] | undefined;
    for (const s of sources) {
      const item = s.items[s.at];
      if (!item) continue;
      const best = next?.items[next.at];
      if (!best || item.lineage < best.lineage || (item.lineage === best.lineage && item.seq < best.seq))
        next = s;
    }
    const item = next?.items[next.at];
    if (!next || !item) break;
    next.at += 1;
    if (!item.has) continue;
    text += `${count > 0 ? "," : ""}${JSON.stringify(item.value) ?? "null"}`;
    count += 1;
  }
  return `${text}]`;
}
