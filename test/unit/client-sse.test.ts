// Reading a text/event-stream body event by event, however the bytes are cut into chunks.
import { describe, expect, it } from "vitest";
import { readEvents, type ServerSentEvent } from "../../src/client/sse";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function all(chunks: string[]): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  for await (const event of readEvents(streamOf(chunks))) out.push(event);
  return out;
}

const TEXT = 'event: progress\ndata: {"a":1}\n\n: keep-alive\n\nevent: end\ndata: {"status":"SUCCESS"}\n\n';

describe("readEvents", () => {
  it("reads named events and skips comments", async () => {
    expect(await all([TEXT])).toEqual([
      { event: "progress", data: '{"a":1}' },
      { event: "end", data: '{"status":"SUCCESS"}' },
    ]);
  });

  it("gives the same events whatever the chunk boundaries, CRLF line ends included", async () => {
    const expected = await all([TEXT]);
    const crlf = TEXT.replaceAll("\n", "\r\n");
    for (const text of [TEXT, crlf]) {
      for (let size = 1; size <= 7; size++) {
        const chunks = [];
        for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
        expect(await all(chunks)).toEqual(expected);
      }
    }
  });

  it("joins data lines, defaults the event name, and drops an event the stream cut short", async () => {
    expect(await all(["data: one\ndata: two\n\nid: 7\nretry: 10\ndata:x\n\ndata: unfinished"])).toEqual([
      { event: "message", data: "one\ntwo" },
      { event: "message", data: "x" },
    ]);
  });

  it("closes the stream when the reader stops early", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readEvents(body)) {
      expect(event.data).toBe("1");
      break;
    }
    expect(cancelled).toBe(true);
  });
});
