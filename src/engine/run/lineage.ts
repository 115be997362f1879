// Lineage keys make a unite's subtree a prefix range and fan-out order a plain string sort.
// A child spawned by state P has key  P.lineage + hex8(P.exec_seq) + hex6(P.fanout_index).
// So every state below execution E (head H) has a key starting with H.lineage + hex8(E), and sorting
// by key orders branches by output index at every level.
export const MAX_FANOUT = 0xffffff;
/** Sorts after every real output index: a unite state comes after all the branches it waited for. */
const UNITE_SLOT = MAX_FANOUT;

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

export function childLineage(parent: { lineage: string; exec_seq: number; fanout_index: number }): string {
  return parent.lineage + hex(parent.exec_seq, 8) + hex(parent.fanout_index, 6);
}

export function subtreePrefix(head: { lineage: string; exec_seq: number }): string {
  return head.lineage + hex(head.exec_seq, 8);
}

export function uniteLineage(head: { lineage: string; exec_seq: number }): string {
  return subtreePrefix(head) + hex(UNITE_SLOT, 6);
}
