/** A 24-hex id, the shape of Exosphere's ObjectIds, for the `_id` fields of listed documents. */
export function objectId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
