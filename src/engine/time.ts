// Exosphere renders timestamps as Python's naive `datetime.isoformat()`: no offset, microseconds when the
// fraction is non-zero, none otherwise. We keep milliseconds (as Mongo does) and pad them to six digits.

/** "2025-01-01T12:00:00.123000", or "2025-01-01T12:00:00" when the milliseconds are zero. Always UTC. */
export function isoNaive(date: Date | number): string {
  const d = typeof date === "number" ? new Date(date) : date;
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const seconds = iso.slice(0, 19);
  const millis = iso.slice(20, 23);
  return millis === "000" ? seconds : `${seconds}.${millis}000`;
}
