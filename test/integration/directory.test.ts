// The directory actor (GET /v0/namespaces) and its one-time import of the list that schema versions 1–2
// kept in a `directory` table of the namespace actor named "__directory__".
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LEGACY_DIRECTORY_NAME } from "../../src/actors/directory-actor";

/** A directory instance of this test's own, so tests do not share one list. */
const freshDirectory = () => env.DIRECTORY.getByName(`test-${crypto.randomUUID()}`);

const legacyActor = () => env.NAMESPACE.getByName(LEGACY_DIRECTORY_NAME);

const tables = (stub: DurableObjectStub) =>
  runInDurableObject(stub, async (_a, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((t) => t.name),
  );

/** Gives the legacy instance a schema-2 directory table holding `namespaces`. */
async function seedLegacy(namespaces: string[]) {
  await runInDurableObject(legacyActor(), async (_a, state) => {
    state.storage.sql.exec("CREATE TABLE IF NOT EXISTS directory (namespace TEXT PRIMARY KEY)");
    for (const ns of namespaces) state.storage.sql.exec("INSERT OR IGNORE INTO directory VALUES (?)", ns);
  });
}

describe("the directory actor", () => {
  it("lists each added namespace once, in code-point order, never the empty name", async () => {
    const directory = freshDirectory();
    for (const ns of ["b", "a", "B", "a", "", "é"]) await directory.add(ns);
    expect(await directory.list()).toEqual(["B", "a", "b", "é"]);
  });

  it("imports the legacy directory table once, and the namespace actor then drops it", async () => {
    await seedLegacy(["legacy-b", "legacy-a"]);
    const directory = freshDirectory();
    expect(await directory.list()).toEqual(["legacy-a", "legacy-b"]);
    expect(await tables(legacyActor())).not.toContain("directory");

    // Imported once: a later legacy table (there is none in practice) is not read again.
    await seedLegacy(["legacy-late"]);
    await directory.add("fresh");
    expect(await directory.list()).toEqual(["fresh", "legacy-a", "legacy-b"]);
    await runInDurableObject(legacyActor(), async (_a, state) => {
      state.storage.sql.exec("DROP TABLE directory");
    });
  });

  it("has no namespace tables, and namespace actors have no directory table", async () => {
    const directory = freshDirectory();
    await directory.add("x");
    expect(await tables(directory)).toEqual(expect.arrayContaining(["meta", "namespaces"]));
    expect(await tables(directory)).not.toContain("graph_templates");
    const ns = env.NAMESPACE.getByName(`ns-${crypto.randomUUID()}`);
    expect(await tables(ns)).not.toContain("directory");
  });
});

describe("namespace actor schema version 3", () => {
  it("drops an empty directory table and keeps one that holds the legacy list", async () => {
    const upgrade = (stub: DurableObjectStub, rows: string[]) =>
      runInDurableObject(stub, async (actor, state) => {
        state.storage.sql.exec("CREATE TABLE IF NOT EXISTS directory (namespace TEXT PRIMARY KEY)");
        for (const ns of rows) state.storage.sql.exec("INSERT INTO directory VALUES (?)", ns);
        state.storage.sql.exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
        // The constructor runs this once per actor start; called directly to upgrade this instance.
        (actor as unknown as { migrate(): boolean }).migrate();
        return state.storage.sql
          .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")
          .one().value;
      });
    const empty = env.NAMESPACE.getByName(`ns-${crypto.randomUUID()}`);
    // Upgraded through version 3 to the current one (4 added run starts and trigger keys, 5 when each
    // node was last served, 6 node queues).
    expect(await upgrade(empty, [])).toBe("6");
    expect(await tables(empty)).not.toContain("directory");
    expect(await tables(empty)).toContain("node_seen");

    const holder = env.NAMESPACE.getByName(`ns-${crypto.randomUUID()}`);
    await upgrade(holder, ["kept"]);
    expect(await tables(holder)).toContain("directory");
  });
});

describe("namespace actor schema version 6", () => {
  it("adds the queue column to registered nodes of version 4, keeping the rows (their queue unknown)", async () => {
    const stub = env.NAMESPACE.getByName(`ns-${crypto.randomUUID()}`);
    const after = await runInDurableObject(stub, async (actor, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP TABLE registered_nodes");
      sql.exec(`CREATE TABLE registered_nodes (name TEXT PRIMARY KEY, id TEXT NOT NULL, runtime_name TEXT NOT NULL,
        inputs_schema TEXT NOT NULL, outputs_schema TEXT NOT NULL, secrets TEXT NOT NULL,
        transport TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`);
      sql.exec("INSERT INTO registered_nodes VALUES ('a', 'id', 'rt', '{}', '{}', '[]', 'queue', 1, 1)");
      sql.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'");
      (actor as unknown as { migrate(): boolean }).migrate();
      return {
        version: sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").one()
          .value,
        rows: sql.exec("SELECT name, transport, queue FROM registered_nodes").toArray(),
      };
    });
    expect(after).toEqual({ version: "6", rows: [{ name: "a", transport: "queue", queue: null }] });
  });
});
