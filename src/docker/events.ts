import type { IncomingMessage } from "node:http";
import { StringDecoder } from "node:string_decoder";
import { setTimeout as sleep } from "node:timers/promises";
import { AnswerShapeError, type ContainerEvent, parseEvent } from "./responses.js";

/** What follows Docker's events: each event, and each (re)connection and loss of the stream. */
export interface EventHandlers {
  onEvent(event: ContainerEvent): void;
  /** The stream is open: whatever happens from now on is told, so a full resync here misses nothing. */
  onConnected(): void;
  onDisconnected(reason: string): void;
}

/** A half-received event larger than this is not an event: the stream is taken as garbled. */
const MAX_PENDING = 1024 * 1024;

/**
 * Splits a stream of JSON objects written one after another (Docker puts a newline between
 * them; nothing here relies on it) into the objects, whatever the chunks' boundaries, multi-byte
 * characters split across chunks included.
 */
export class JsonObjects {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  push(chunk: Buffer): unknown[] {
    const text = this.pending + this.decoder.write(chunk);
    const objects: unknown[] = [];
    let start = 0;
    for (let i = this.scanned; i < text.length; i++) {
      const char = text[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (char === "\\") this.escaped = true;
        else if (char === '"') this.inString = false;
      } else if (char === '"') this.inString = true;
      else if (char === "{") this.depth++;
      else if (char === "}") {
        this.depth--;
        if (this.depth === 0) {
          objects.push(JSON.parse(text.slice(start, i + 1)));
          start = i + 1;
        }
      } else if (this.depth === 0) {
        if (!/\s/.test(char ?? "")) throw new AnswerShapeError(`the event stream has '${char}' between objects`);
        start = i + 1;
      }
    }
    this.pending = text.slice(start);
    this.scanned = this.pending.length;
    if (this.pending.length > MAX_PENDING) throw new AnswerShapeError(`an event exceeds ${MAX_PENDING} characters`);
    return objects;
  }
}

const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 5_000;

/**
 * How long to wait before the next connection: 250 ms after a first loss or after a connection
 * that stayed up 5 s, else twice the last wait, up to 5 s.
 */
export function retryWait(lastWait: number | undefined, connectedMs: number | undefined): number {
  if (lastWait === undefined || (connectedMs !== undefined && connectedMs >= LAST_RETRY_MS)) return FIRST_RETRY_MS;
  return Math.min(lastWait * 2, LAST_RETRY_MS);
}

/** Reads one connection's events until it ends; resolves with why it ended. */
function readEvents(body: IncomingMessage, handlers: EventHandlers, signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const objects = new JsonObjects();
    const done = (reason: string) => {
      signal.removeEventListener("abort", stop);
      body.destroy();
      resolve(reason);
    };
    const stop = () => done("stopped");
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    body.on("data", (chunk: Buffer) => {
      try {
        for (const object of objects.push(chunk)) handlers.onEvent(parseEvent(object));
      } catch (error) {
        done(`the event stream is garbled: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
    body.on("end", () => done("Docker ended the event stream"));
    body.on("error", (error) => done(`the event stream broke: ${error.message}`));
    body.on("close", () => done("the event stream was closed"));
  });
}

/**
 * Follows the events until `signal` aborts: on each loss, `onDisconnected`, then a new
 * connection after a wait doubling from 250 ms to 5 s (back to 250 ms once a connection has
 * stayed up 5 s), and `onConnected` on each. `lost` runs on each loss too (the Engine forgets
 * its negotiated version: dockerd may have been upgraded while it was away).
 */
export async function followEventStream(
  open: (signal: AbortSignal) => Promise<IncomingMessage>,
  handlers: EventHandlers,
  signal: AbortSignal,
  lost: () => void,
): Promise<void> {
  let wait: number | undefined;
  while (!signal.aborted) {
    let connectedAt: number | undefined;
    let reason: string;
    try {
      const body = await open(signal);
      connectedAt = Date.now();
      try {
        handlers.onConnected();
      } catch (error) {
        body.destroy();
        throw error;
      }
      reason = await readEvents(body, handlers, signal);
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    if (signal.aborted) return;
    handlers.onDisconnected(reason);
    lost();
    wait = retryWait(wait, connectedAt === undefined ? undefined : Date.now() - connectedAt);
    try {
      await sleep(wait, undefined, { signal });
    } catch {
      return;
    }
  }
}
