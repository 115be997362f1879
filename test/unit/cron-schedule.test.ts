import { describe, expect, it } from "vitest";
import {
  decideDue,
  earliest,
  FIRE_RETRY_DELAYS_MS,
  fireRetryAt,
  reconcileSchedules,
  scheduleKey,
} from "../../src/engine/cron-schedule";
import type { CronTrigger } from "../../src/engine/model";

const utc = (iso: string) => Date.parse(`${iso}Z`);
const cron = (...expressions: string[]): CronTrigger[] =>
  expressions.map((expression) => ({ type: "CRON", value: { expression } }));

describe("reconcileSchedules", () => {
  const now = utc("2030-03-10T10:17:00");

  it("arms a new expression for its first occurrence after now", () => {
    expect(reconcileSchedules([], cron("0 * * * *"), true, now)).toEqual({
      add: [{ expression: "0 * * * *", next_fire_at: utc("2030-03-10T11:00:00") }],
      remove: [],
    });
  });

  it("keeps an expression the graph still declares, with its pending occurrence", () => {
    const current = [{ expression: "0 * * * *", next_fire_at: utc("2030-03-10T10:00:00") }];
    expect(reconcileSchedules(current, cron("0 * * * *"), true, now)).toEqual({ add: [], remove: [] });
  });

  it("removes expressions the graph no longer declares", () => {
    const current = [
      { expression: "0 * * * *", next_fire_at: now + 1 },
      { expression: "@daily", next_fire_at: now + 2 },
    ];
    expect(reconcileSchedules(current, cron("@daily", "30 * * * *"), true, now)).toEqual({
      add: [{ expression: "30 * * * *", next_fire_at: utc("2030-03-10T10:30:00") }],
      remove: ["0 * * * *"],
    });
  });

  it("schedules an expression listed twice (or spelled with other blanks) once", () => {
    const { add } = reconcileSchedules([], cron("0 0 * * *", " 0  0 * * * ", "0 0 * * *"), true, now);
    expect(add).toEqual([{ expression: "0 0 * * *", next_fire_at: utc("2030-03-11T00:00:00") }]);
    expect(scheduleKey("\t0 0  * * *\n")).toBe("0 0 * * *");
  });

  it("removes every schedule of a graph that is not VALID, and adds none", () => {
    const current = [{ expression: "0 * * * *", next_fire_at: now + 1 }];
    expect(reconcileSchedules(current, cron("0 * * * *", "@daily"), false, now)).toEqual({
      add: [],
      remove: ["0 * * * *"],
    });
  });
});

describe("decideDue", () => {
  it("fires once after many missed windows and re-arms strictly after now", () => {
    const now = utc("2030-03-10T10:17:30");
    const [d] = decideDue([{ expression: "* * * * *", next_fire_at: utc("2030-03-01T00:00:00") }], now);
    expect(d).toEqual({ expression: "* * * * *", fire: true, next: utc("2030-03-10T10:18:00") });
  });

  it("fires a schedule due exactly now", () => {
    const now = utc("2030-03-10T11:00:00");
    expect(decideDue([{ expression: "0 * * * *", next_fire_at: now }], now)).toEqual([
      { expression: "0 * * * *", fire: true, next: utc("2030-03-10T12:00:00") },
    ]);
  });

  it("does nothing for a schedule that is not due yet (an early alarm)", () => {
    const now = utc("2030-03-10T10:17:30");
    const pending = utc("2030-03-10T11:00:00");
    expect(decideDue([{ expression: "0 * * * *", next_fire_at: pending }], now)).toEqual([
      { expression: "0 * * * *", fire: false, next: pending },
    ]);
  });

  it("drops a stored expression that no longer parses instead of waking forever", () => {
    expect(decideDue([{ expression: "not cron", next_fire_at: 0 }], 1000)).toEqual([
      { expression: "not cron", fire: false, next: null },
    ]);
  });
});

describe("fireRetryAt", () => {
  it("backs off through the listed delays, then gives up", () => {
    FIRE_RETRY_DELAYS_MS.forEach((delay, i) => {
      expect(fireRetryAt(i + 1, 1000)).toBe(1000 + delay);
    });
    expect(fireRetryAt(FIRE_RETRY_DELAYS_MS.length + 1, 1000)).toBeNull();
  });
});

describe("earliest", () => {
  it("is the smallest pending time, or null when nothing is pending", () => {
    expect(earliest([null, 30, undefined, 10, 20])).toBe(10);
    expect(earliest([null, undefined])).toBeNull();
    expect(earliest([])).toBeNull();
  });
});
