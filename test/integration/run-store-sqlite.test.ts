// The RunStore contract against the run actor's SQLite store, in a fresh Durable Object's storage.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CLONE_PAGE_MEMBERS } from "../../src/actors/run-clone-pages";
import { localNodeCounts } from "../../src/actors/run-node-counts";
import { FIRST_DELIVERY_EPOCH, migrateRunSchema, nextDeliveryEpoch } from "../../src/actors/run-schema";
import { SqlRunStore } from "../../src/actors/run-sql-store";
import { ROW_VALUE_BYTES } from "../../src/engine/limits";
import type { EngineEnv } from "../../src/engine/run/engine-core";
import { positionIn, type SubtreePosition } from "../../src/engine/run/gather";
import type { SpawnBatch } from "../../src/engine/run/types";
import { row, runStoreContract } from "../contract/run-store-contract";
import { engineOver, node, runSnapshot } from "../unit/run-harness";

/** Runs `fn` inside a fresh run actor (named `prefix-<uuid>`) whose schema is migrated. */
const inFreshRunActor = <T>(
  prefix: string,
  fn: (actor: { sql: SqlStorage; state: DurableObjectState }) => Promise<T>,
) =>
  runInDurableObject(env.RUN.getByName(`${prefix}-${crypto.randomUUID()}`), async (_actor, state) => {
    migrateRunSchema(state.storage.sql);
    return fn({ sql: state.storage.sql, state });
  });

// Twice: writing each row at once, and buffering row writes into multi-row statements until the commit
// (as the run actor does inside a transaction).
for (const buffered of [false, true]) {
  runStoreContract(buffered ? "sqlite, buffered writes" : "sqlite", (shard, values, test) =>
    inFreshRunActor("contract", async ({ sql }) => {
      for (const [key, value] of Object.entries(values)) {
        sql.exec("INSERT INTO store (key, value) VALUES (?, ?)", key, value);
      }
      const store = new SqlRunStore(sql, shard);
      if (buffered) store.bufferWrites();
      await test({
        store,
        commit: () => {
          store.flush();
          if (buffered) store.bufferWrites();
        },
        counts: () => store.counts(),
        dueAt: (now) => store.readyStates(now, 1_000).map((r) => r.seq),
        takeRemoteDeltas: () => {
          const rows = store.pendingSettles(1_000);
          const last = rows[rows.length - 1];
          if (last) store.settlesConfirmed(last.id);
          return rows.flatMap((r) => r.delta.barriers);
        },
      });
    }),
  );
}

describe("the run actor's spawn outbox", () => {
  it("keeps a batch heavier than a row in chunks, reads it back whole, and drops the chunks once confirmed", () =>
    inFreshRunActor("contract", async ({ sql }) => {
      const store = new SqlRunStore(sql, 0);
      const batch = {
        head: { seq: 1, identifier: "p", node_name: "P", namespace: "t", parents: [], lineage: "" },
        spawn: [],
        members: [{ fanout_index: 1, outputs: { v: "é".repeat(1_500_000) }, inputs: [] }],
      };
      store.forward(2, batch);
      const longest = sql.exec<{ n: number }>("SELECT max(length(body)) AS n FROM spawn_outbox").one().n;
      expect(longest).toBeLessThanOrEqual(ROW_VALUE_BYTES);
      const [pending] = store.pendingSpawns(10);
      expect(pending?.shard).toBe(2);
      expect(JSON.parse(pending?.body ?? "")).toEqual(batch);
      // As a restarted actor sees it: read back from its row and chunks, not from the writer's memory.
      const [stored] = new SqlRunStore(sql, 0).pendingSpawns(10);
      expect(stored).toEqual({ id: pending?.id, shard: 2, body: pending?.body });
      store.spawnConfirmed(pending?.id ?? 0);
      expect(sql.exec("SELECT 1 FROM chunks").toArray()).toEqual([]);
      expect(store.pendingSpawns(10)).toEqual([]);
    }));
});

describe("the run actor's schema upgrade to v5 (the CANCELLED status)", () => {
  it("rebuilds a v4 states table whose CHECK lacks CANCELLED, keeping its rows and indexes", () =>
    inFreshRunActor("schema", async ({ sql }) => {
      // Turn it into a v4 table: the same columns, the status CHECK without CANCELLED.
      const v4 = sql
        .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'states'")
        .one()
        .sql.replace(",'CANCELLED'", "");
      expect(v4).not.toContain("CANCELLED");
      sql.exec("DROP TABLE states");
      sql.exec(v4);
      sql.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'");
      const store = new SqlRunStore(sql, 0);
      store.insertState(row(1, { status: "QUEUED" }));
      expect(() => sql.exec("UPDATE states SET status = 'CANCELLED' WHERE seq = 1")).toThrow(/CHECK/);

      migrateRunSchema(sql);
      const upgraded = new SqlRunStore(sql, 0);
      expect(upgraded.getState(1)).toMatchObject({ status: "QUEUED", inputs: { v: "in" } });
      expect(upgraded.cancelPending("cancelled", 5)).toEqual({ QUEUED: 1 });
      expect(upgraded.getState(1)?.status).toBe("CANCELLED");
      const indexes = sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'states'")
        .toArray()
        .map((r) => r.name);
      expect(indexes).toEqual(
        expect.arrayContaining(["states_ready", "states_leased", "states_held", "states_parked"]),
      );
      expect(sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'states_v4'").toArray()).toEqual([]);
    }));
});

describe("a new run actor's schema", () => {
  const objects = (sql: SqlStorage) =>
    sql
      .exec<{ type: string; name: string }>(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY type, name",
      )
      .toArray()
      .map((o) => `${o.type} ${o.name}`);

  it("is created in one batch with the first delivery epoch, and is the schema an upgrade reaches", () =>
    runInDurableObject(env.RUN.getByName(`schema-${crypto.randomUUID()}`), async (_actor, state) => {
      const { sql } = state.storage;
      expect(migrateRunSchema(sql)).toBe("created");
      const created = objects(sql);
      expect(created).toEqual(
        expect.arrayContaining(["table states", "table meta", "table costs", "index states_ready"]),
      );
      const meta = () =>
        Object.fromEntries(
          sql
            .exec<{ key: string; value: string }>("SELECT key, value FROM meta")
            .toArray()
            .map((r) => [r.key, r.value]),
        );
      expect(meta()).toEqual({ schema_version: "8", delivery_epoch: String(FIRST_DELIVERY_EPOCH) });
      // Nothing else was written: a store and a cost book opened as empty read nothing back.
      for (const table of ["states", "clone_pages", "chunks", "costs", "barriers", "counts"]) {
        expect(sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n).toBe(0);
      }
      // A store opened as empty starts where one that reads the storage back starts, on any shard.
      for (const shard of [0, 2]) {
        expect(new SqlRunStore(sql, shard, true).nextSeq()).toBe(new SqlRunStore(sql, shard).nextSeq());
      }
      // Opened again (a restart), the schema is current, and the next instance gets the next epoch.
      expect(migrateRunSchema(sql)).toBe("current");
      expect(nextDeliveryEpoch(sql)).toBe(FIRST_DELIVERY_EPOCH + 1);
      return created;
    }).then((created) =>
      // The same statements run one at a time (as for an actor that has a meta table but no schema
      // version) reach the same tables and indexes.
      runInDurableObject(env.RUN.getByName(`schema-${crypto.randomUUID()}`), async (_actor, state) => {
        const { sql } = state.storage;
        sql.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
        expect(migrateRunSchema(sql)).toBe("current");
        expect(objects(sql)).toEqual(created);
      }),
    ));
});

describe("values stored in chunks", () => {
  it("replaces a chunked value with a small one and back, without stale chunks, across a rolled-back write", () =>
    inFreshRunActor("chunks", async ({ sql, state }) => {
      const store = new SqlRunStore(sql, 0);
      const big = { v: "x".repeat(ROW_VALUE_BYTES + 10) };
      const chunkRows = () => sql.exec<{ n: number }>("SELECT count(*) AS n FROM chunks").one().n;
      store.insertState(row(1, { status: "QUEUED", outputs: big }));
      expect(chunkRows()).toBeGreaterThan(1);
      store.updateState(1, { outputs: { v: "small" } }, 2);
      expect(chunkRows()).toBe(0);
      expect(store.getState(1)?.outputs).toEqual({ v: "small" });
      store.updateState(1, { outputs: big }, 3);
      // A transaction that replaces the value and rolls back leaves the chunks (and the store's knowledge
      // of them) as they were: the next replacement still drops them.
      expect(() =>
        state.storage.transactionSync(() => {
          store.updateState(1, { outputs: { v: "gone" } }, 4);
          throw new Error("roll back");
        }),
      ).toThrow("roll back");
      store.discard();
      expect(store.getState(1)?.outputs).toEqual(big);
      store.updateState(1, { outputs: { v: "after" } }, 5);
      expect(chunkRows()).toBe(0);
      // A new store instance (an actor restart) knows the chunks written before it.
      store.updateState(1, { outputs: big }, 6);
      new SqlRunStore(sql, 0).updateState(1, { outputs: { v: "restarted" } }, 7);
      expect(chunkRows()).toBe(0);
    }));
});

/**
 * An engine over this actor's SQLite store, shard `shard` of a run of the seed's shape: `s` fans out, `p`
 * runs once per output. `env`: more of the engine's environment (a shard plan, claims at birth).
 */
function splitProcessEngine(sql: SqlStorage, shard: number, env: Partial<EngineEnv> = {}) {
  const snapshot = runSnapshot([node("s", { data: "" }, ["p"]), node("p", { v: "${{ s.outputs.v }}" })]);
  const store = new SqlRunStore(sql, shard);
  return { store, engine: engineOver(store, snapshot, { shard, ...env }) };
}

describe("inputs stored in chunks", () => {
  const big = { data: "x".repeat(ROW_VALUE_BYTES + 10) };
  const corrupt = (sql: SqlStorage, seq: number) =>
    sql.exec("UPDATE chunks SET text = 'not JSON' WHERE seq = ? AND col = 'inputs' AND part = 0", seq);

  it("are loaded on first use: once, by a spread too, replaced by an assignment, and as text in chunks", () =>
    inFreshRunActor("lazy-inputs", async ({ sql }) => {
      const store = new SqlRunStore(sql, 0);
      store.insertState(row(1, { status: "QUEUED", inputs: big }));
      store.insertState(row(2, { status: "QUEUED", inputs: big }));
      store.insertState(row(3, { status: "SUCCESS", exec_seq: 1, fanout_index: 1 }));
      const read = store.getState(1);
      expect(read?.inputs).toEqual(big);
      expect(read?.inputs).toBe(read?.inputs); // loaded once
      expect(store.getState(3)?.inputs).toEqual(big); // a clone's are its head's
      // As text: the chunks as stored, never joined or parsed; a small value is one part.
      const parts = store.inputsText(1);
      expect(parts.length).toBeGreaterThan(1);
      expect(JSON.parse(parts.join(""))).toEqual(big);
      store.updateState(1, { inputs: { data: "small" } }, 2);
      expect(store.inputsText(1)).toEqual(['{"data":"small"}']);
      expect(store.inputsText(99)).toEqual(["{}"]);
      const second = store.getState(2);
      expect({ ...second }.inputs).toEqual(big); // a spread reads them too
      if (second) second.inputs = { data: "assigned" };
      expect(second?.inputs).toEqual({ data: "assigned" });
      // Only reading them parses them: a row whose chunked inputs are damaged reads, its inputs throw.
      corrupt(sql, 2);
      const damaged = store.getState(2);
      expect(damaged?.status).toBe("QUEUED");
      expect(() => damaged?.inputs).toThrow("not JSON");
    }));

  it("are never parsed while a fan-out head's pages of outputs apply", () =>
    inFreshRunActor("lazy-head", async ({ sql }) => {
      const { store, engine } = splitProcessEngine(sql, 0);
      const head = engine.start(big, 0, 1_000);
      engine.claim([head.seq], 1_000);
      corrupt(sql, head.seq);
      const outputs = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => ({ v: `${from + i}` }));
      const pages = [
        engine.apply(
          [{ type: "executed", seq: head.seq, outputs: outputs(0, 3), page: { offset: 0, more: true } }],
          2_000,
        ),
        engine.apply(
          [{ type: "executed", seq: head.seq, outputs: outputs(3, 2), page: { offset: 3, more: false } }],
          3_000,
        ),
      ];
      expect(pages.flat().map((o) => o.applied)).toEqual([true, true]);
      expect(store.getState(head.seq)?.status).toBe("SUCCESS");
      expect(localNodeCounts(sql)).toEqual({ s: { SUCCESS: 5 }, p: { CREATED: 5 } });
      // The damage is still there: had a page parsed the head's inputs, it would have failed on it.
      expect(() => store.getState(head.seq)?.inputs).toThrow("not JSON");
    }));

  it("of a row, small ones too, are never parsed while its report applies", () =>
    inFreshRunActor("lazy-report", async ({ sql }) => {
      const { store, engine } = splitProcessEngine(sql, 0);
      const head = engine.start({ data: "[1]" }, 0, 1_000);
      engine.claim([head.seq], 1_000);
      engine.apply([{ type: "executed", seq: head.seq, outputs: [{ v: "1" }] }], 2_000);
      const [branch] = store.readyStates(Number.MAX_SAFE_INTEGER, 10);
      if (!branch) throw new Error("no branch was created");
      engine.claim([branch.seq], 3_000);
      // The branch's inputs ({"v":"1"}, one part in its row) damaged: a report that parsed them would fail.
      sql.exec("UPDATE states SET inputs = 'not JSON' WHERE seq = ?", branch.seq);
      const [outcome] = engine.apply([{ type: "executed", seq: branch.seq, outputs: [{ r: "2" }] }], 4_000);
      expect(outcome?.applied).toBe(true);
      expect(store.getState(branch.seq)?.status).toBe("SUCCESS");
      expect(() => store.getState(branch.seq)?.inputs).toThrow("not JSON");
    }));
});

describe("a wide batch of branches adopted by a shard", () => {
  it("changes no count the run actor counted for it, so the shard has nothing to send back", () =>
    inFreshRunActor("adopt", async ({ sql }) => {
      const { store, engine } = splitProcessEngine(sql, 1, {
        shards: { count: 2, from: 1 },
        claimAtBirth: () => ({ leaseExpires: 60_000, delivery: 1 }),
      });
      const batch = (from: number, queued?: string[]): SpawnBatch => ({
        head: { seq: 1, identifier: "s", node_name: "s", namespace: "t", parents: [], lineage: "" },
        spawn: [{ identifier: "p", node_name: "p", namespace: "t" }],
        members: Array.from({ length: 100 }, (_, i) => ({
          fanout_index: from + i,
          outputs: { v: `${from + i}` },
          inputs: [{ v: `${from + i}` }],
        })),
        ...(queued ? { queued } : {}),
      });
      // Counted QUEUED by the run actor, written born claimed: no settle delta at all.
      engine.adopt(batch(1, ["p"]), 1_000);
      store.flush();
      expect(store.pendingSettles(10)).toEqual([]);
      // A batch counted CREATED (written before batches said otherwise): the shard moves the counts.
      engine.adopt(batch(101), 1_000);
      store.flush();
      expect(store.pendingSettles(10).map((r) => r.delta.counts)).toEqual([{ CREATED: -100, QUEUED: 100 }]);
      expect(localNodeCounts(sql).p).toEqual({ QUEUED: 200 });
    }));
});

describe("the run actor's schema upgrade to v6 (chunks in a rowid table)", () => {
  it("moves a v5 WITHOUT ROWID chunks table's rows into the rowid table", () =>
    inFreshRunActor("schema", async ({ sql }) => {
      sql.exec("DROP TABLE chunks");
      sql.exec(`CREATE TABLE chunks (seq INTEGER NOT NULL, col TEXT NOT NULL, part INTEGER NOT NULL,
        text TEXT NOT NULL, PRIMARY KEY (seq, col, part)) WITHOUT ROWID`);
      sql.exec("UPDATE meta SET value = '5' WHERE key = 'schema_version'");
      const store = new SqlRunStore(sql, 0);
      const big = { v: "y".repeat(ROW_VALUE_BYTES + 10) };
      store.insertState(row(1, { status: "QUEUED", outputs: big }));

      migrateRunSchema(sql);
      const ddl = sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'chunks'").one().sql;
      expect(ddl).not.toMatch(/WITHOUT ROWID/);
      expect(new SqlRunStore(sql, 0).getState(1)?.outputs).toEqual(big);
      expect(sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'chunks_v5'").toArray()).toEqual([]);
    }));
});

describe("prefetched state rows", () => {
  it("serve one read each and never outlive a write to their state", () =>
    inFreshRunActor("prefetch", async ({ sql }) => {
      const store = new SqlRunStore(sql, 0);
      for (const seq of [1, 2, 3]) store.insertState(row(seq, { status: "QUEUED" }));
      store.bufferWrites();
      store.prefetch([1, 2, 3]);
      store.updateState(1, { status: "SUCCESS", outputs: { n: 1 } }, 7);
      // A state written after the prefetch reads its write, not the prefetched row (the write is still
      // buffered: the read writes it first).
      expect(store.getState(1)).toMatchObject({ status: "SUCCESS", outputs: { n: 1 }, updated_at: 7 });
      expect(store.getState(2)).toMatchObject({ status: "QUEUED" });
      // A second read of the same state goes to the table again, and sees a write made by other means.
      sql.exec("UPDATE states SET error = 'changed' WHERE seq = 2");
      expect(store.getState(2)?.error).toBe("changed");
      store.flush();
      // Nothing prefetched outlives the transaction.
      sql.exec("UPDATE states SET error = 'later' WHERE seq = 3");
      expect(store.getState(3)?.error).toBe("later");
    }));
});

describe("buffered state writes", () => {
  it("writes what a transaction buffered as it would one row at a time: order, nulls, odd text, repeats", () =>
    inFreshRunActor("buffered", async ({ sql }) => {
      const odd = 'quote " backslash \\ tab \t newline \n nul \u0000 é 🎉 \ud800 end';
      const rows = Array.from({ length: 2_500 }, (_, i) =>
        row(i + 1, {
          identifier: i % 3 === 0 ? "a" : "b",
          status: i % 2 === 0 ? "CREATED" : "SUCCESS",
          outputs: i % 7 === 0 ? { text: odd, i } : {},
          error: i % 5 === 0 ? `error ${i}` : null,
          enqueue_after: i % 11 === 0 ? 7 : 3,
        }),
      );
      const store = new SqlRunStore(sql, 0);
      store.bufferWrites();
      for (const r of rows) store.insertState(r);
      // Claims with one lease (every value shared), reports with their own outputs, and a row updated
      // twice in a row: the second write wins.
      for (let seq = 1; seq <= 2_500; seq += 2) {
        store.updateState(seq, { status: "QUEUED", lease_expires: 99, delivery: 1 }, 10);
      }
      for (let seq = 1; seq <= 2_500; seq += 4) {
        store.updateState(seq, { status: "SUCCESS", outputs: { n: seq, odd }, error: null }, 11);
      }
      store.updateState(5, { status: "ERRORED", error: "first" }, 12);
      store.updateState(5, { status: "ERRORED", error: "second" }, 13);
      store.flush();

      const got = (seq: number) => store.getState(seq);
      expect(got(1)).toMatchObject({
        status: "SUCCESS",
        outputs: { n: 1, odd },
        error: null,
        updated_at: 11,
      });
      expect(got(3)).toMatchObject({ status: "QUEUED", outputs: {}, updated_at: 10 });
      expect(got(5)).toMatchObject({ status: "ERRORED", error: "second", updated_at: 13 });
      expect(got(2)).toEqual({ ...rows[1], parents: [] });
      expect(got(8)?.outputs).toEqual({ text: odd, i: 7 });
      expect(got(12)).toMatchObject({ enqueue_after: 7, identifier: "b", error: null });
      expect(got(16)).toMatchObject({ error: "error 15", status: "SUCCESS" });
      const leased = sql
        .exec<{ n: number }>("SELECT count(*) AS n FROM states WHERE lease_expires = 99 AND delivery = 1")
        .one().n;
      expect(leased).toBe(1_250);
      expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM states").one().n).toBe(2_500);
    }));
});

describe("fan-out clones kept as pages", () => {
  it("takes a row per page, not per clone, and every read and a restarted store still see each clone", () =>
    inFreshRunActor("pages", async ({ sql }) => {
      const store = new SqlRunStore(sql, 0);
      store.bufferWrites();
      const head = row(store.nextSeq(), { identifier: "q", lineage: "00000001000000", status: "SUCCESS" });
      store.insertState(head);
      const clones = Array.from({ length: 2_000 }, (_, k) =>
        row(0, {
          ...head,
          seq: store.nextSeq(),
          exec_seq: head.seq,
          fanout_index: k + 1,
          // One output too large for a page: that clone is a row of its own, between two pages.
          outputs: { v: k === 1_000 ? "x".repeat(70_000) : k },
        }),
      );
      for (const c of clones) store.insertState(c);
      // A second execution's clones in the same subtree, after another node's rows.
      store.insertState(row(store.nextSeq(), { identifier: "c" }));
      const later = row(store.nextSeq(), { identifier: "q", lineage: "00000001000001", status: "SUCCESS" });
      store.insertState({ ...later, outputs: { v: "later-0" } });
      const laterClone = row(0, { ...later, seq: store.nextSeq(), exec_seq: later.seq, fanout_index: 1 });
      store.insertState({ ...laterClone, outputs: { v: "later-1" } });
      store.flush();

      const pages = sql.exec<{ n: number }>("SELECT count(*) AS n FROM clone_pages").one().n;
      expect(pages).toBeLessThanOrEqual(Math.ceil(2_000 / CLONE_PAGE_MEMBERS) + 2);
      const rows = sql.exec<{ n: number }>("SELECT count(*) AS n FROM states").one().n;
      expect(rows).toBe(4); // the two heads, the large clone and the other node's row
      expect(localNodeCounts(sql)).toEqual({ q: { SUCCESS: 2_003 }, c: { CREATED: 1 } });

      // From a restarted store, the subtree is the whole list in fan-out order, read whole or by 7.
      const restarted = new SqlRunStore(sql, 0);
      const all = restarted.subtreeTexts("q", "00000001", "v");
      // (The first head has no output "v": it adds no value.)
      expect(all).toEqual([...clones.map((c) => JSON.stringify(c.outputs.v)), '"later-0"', '"later-1"']);
      const paged: string[] = [];
      let after: SubtreePosition | null = null;
      for (;;) {
        const page = restarted.subtreePage("q", "00000001", "v", after, 7);
        paged.push(...page.values.filter((v): v is string => v !== null));
        if (page.seqs.length < 7) break;
        after = positionIn(page, 6);
      }
      expect(paged).toEqual(all);
      expect(restarted.getState(clones[1_500]?.seq ?? 0)).toEqual({ ...clones[1_500], inputs: head.inputs });
      expect(restarted.nextSeq()).toBe(laterClone.seq + 1);
    }));

  it("forgets the pages of a transaction that rolled back", () =>
    inFreshRunActor("pages", async ({ sql, state }) => {
      const store = new SqlRunStore(sql, 0);
      const head = row(store.nextSeq(), { status: "SUCCESS" });
      store.insertState(head);
      store.flush();
      expect(() =>
        state.storage.transactionSync(() => {
          store.bufferWrites();
          store.insertState(row(store.nextSeq(), { ...head, seq: 2, exec_seq: 1, fanout_index: 1 }));
          expect(store.outputsOf(2)).toEqual({});
          throw new Error("roll back");
        }),
      ).toThrow("roll back");
      store.discard();
      store.flush();
      expect(store.getState(2)).toBeUndefined();
      expect(store.outputsOf(2)).toBeUndefined();
      expect(sql.exec("SELECT 1 FROM clone_pages").toArray()).toEqual([]);
    }));
});

describe("the run actor's schema upgrade to v8 (fan-out order by output index)", () => {
  it("gives v7 clone pages their last index and rebuilds both subtree indexes", () =>
    inFreshRunActor("schema", async ({ sql }) => {
      // A v7 database: pages without their last index, subtree indexes without the output index.
      sql.exec("DROP INDEX clone_pages_subtree");
      sql.exec("ALTER TABLE clone_pages DROP COLUMN last_index");
      sql.exec("CREATE INDEX clone_pages_subtree ON clone_pages (identifier, lineage, first_seq)");
      sql.exec("DROP INDEX states_success_subtree");
      sql.exec(
        "CREATE INDEX states_success_subtree ON states (identifier, lineage) WHERE status = 'SUCCESS'",
      );
      sql.exec("UPDATE meta SET value = '7' WHERE key = 'schema_version'");
      sql.exec(
        `INSERT INTO clone_pages (first_seq, n, exec_seq, identifier, node_name, namespace, parents, lineage, data,
           manual_retry_fanout_id, enqueue_after, created_at, fanout_indexes, fanout_ids, outputs)
         VALUES (2, 2, 1, 'q', 'Q', 't', '[]', 'ab', '{}', '', 0, 1, '[4,9]', '["f4","f9"]', '[{"v":4},{"v":9}]')`,
      );

      migrateRunSchema(sql);
      expect(sql.exec<{ i: number }>("SELECT last_index AS i FROM clone_pages").one().i).toBe(9);
      const ddl = (name: string) =>
        sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = ?", name).one().sql;
      expect(ddl("clone_pages_subtree")).toMatch(/\(identifier, lineage, last_index\)/);
      expect(ddl("states_success_subtree")).toMatch(/\(identifier, lineage, fanout_index\)/);
      const store = new SqlRunStore(sql, 0);
      expect(store.subtreeTexts("q", "a", "v")).toEqual(["4", "9"]);
      expect(store.getState(3)).toMatchObject({ fanout_index: 9, fanout_id: "f9", outputs: { v: 9 } });
    }));
});

describe("clone pages written in one transaction", () => {
  it("writes many heavy pages in statements whose parameter stays under a value's bound", () =>
    inFreshRunActor("pages", async ({ sql }) => {
      // Every statement's largest parameter, in UTF-8 bytes (Durable Objects bound a value to 2 MB).
      let largest = 0;
      const watched = {
        exec: (query: string, ...bindings: unknown[]) => {
          for (const b of bindings) {
            if (typeof b === "string") largest = Math.max(largest, new TextEncoder().encode(b).length);
          }
          return sql.exec(query, ...bindings);
        },
      } as SqlStorage;
      const store = new SqlRunStore(watched, 0);
      store.bufferWrites();
      const head = row(store.nextSeq(), { identifier: "q", lineage: "00000001000000", status: "SUCCESS" });
      store.insertState(head);
      // 60 clones of about 60,000 characters of JSON each, one page each: quotes are escaped again in the
      // statement's parameter, so all of them in one statement would be about 7 MB.
      const heavy = '"'.repeat(20_000) + "é".repeat(20_000);
      const clones = Array.from({ length: 60 }, (_, k) =>
        row(0, {
          ...head,
          seq: store.nextSeq(),
          exec_seq: head.seq,
          fanout_index: k + 1,
          outputs: { v: heavy, k },
        }),
      );
      for (const c of clones) store.insertState(c);
      store.flush();
      expect(largest).toBeLessThanOrEqual(2_000_000);
      expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM clone_pages").one().n).toBe(60);
      expect(sql.exec<{ n: number }>("SELECT count(*) AS n FROM states").one().n).toBe(1);
      expect(new SqlRunStore(sql, 0).getState(clones[59]?.seq ?? 0)?.outputs).toEqual({ v: heavy, k: 59 });
    }));
});

describe("barriers kept in memory", () => {
  it("answers what was last written, never a rolled-back write, and copies (a change is not a write)", () =>
    inFreshRunActor("barriers", async ({ sql, state }) => {
      const store = new SqlRunStore(sql, 0);
      const b = { unite: "u", exec_seq: 4, pending: 3, failed: 0, failed_sample: [], fired: false };
      store.putBarrier(b);
      // The caller's object and the answers are copies: changing them changes nothing stored.
      b.pending = 99;
      const read = store.getBarrier("u", 4);
      expect(read?.pending).toBe(3);
      if (read) read.failed_sample.push(7);
      expect(store.getBarrier("u", 4)?.failed_sample).toEqual([]);
      // A transaction that writes the barrier and rolls back leaves the stored one, in memory as on disk.
      expect(() =>
        state.storage.transactionSync(() => {
          store.putBarrier({ ...b, pending: 1 });
          expect(store.getBarrier("u", 4)?.pending).toBe(1);
          throw new Error("roll back");
        }),
      ).toThrow("roll back");
      store.discard();
      expect(store.getBarrier("u", 4)?.pending).toBe(3);
      expect(new SqlRunStore(sql, 0).getBarrier("u", 4)?.pending).toBe(3);
    }));
});
