// Reads a text/event-stream body (the server-sent events format) event by event. Used with `fetch`, which,
// unlike EventSource, can send the API key in a header.

export interface ServerSentEvent {
  /** The `event:` field; "message" when the event names none. */
  event: string;
  /** The `data:` lines, joined by "\n". */
  data: string;
}

/** The events of `body` in order, until it ends. Comment lines (`: …`) and `id:` / `retry:` are skipped. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline = buffer.search(/\r\n|\r|\n/);
      while (newline >= 0) {
        // A "\r" that ends the chunk may be the first half of "\r\n": wait for the next chunk.
        if (!done && newline === buffer.length - 1 && buffer.endsWith("\r")) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
        newline = buffer.search(/\r\n|\r|\n/);
      }
      if (done) return;
    }
  } finally {
    // A consumer that stops early (break, return, throw) closes the connection.
    await reader.cancel().catch(() => {});
  }
}
