import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Collect = (options?: { type: "minor" }) => void;
let collect: Collect | undefined;

/** Node's own collector, reached as --expose-gc would: set the flag, take `gc` from a new context. */
function collector(): Collect {
  if (!collect) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as Collect;
    setFlagsFromString("--no-expose-gc");
  }
  return collect;
}

/** What the upload tells the collector: bytes read from disk, bytes sent, each so far. */
export interface StreamCollector {
  packed(bytes: number): void;
  sent(bytes: number): void;
}

const MB = 1024 * 1024;

/**
 * Streaming makes about 3 GB of short-lived buffers per GB shipped (file reads, deflate output,
 * SSH packets), and V8 lets 64 MB of them wait before it collects any: left alone, shipping 1 GB
 * took the CLI to over 180 MB. So the upload collects as it goes:
 * - every 4 MB read, the young generation (under a millisecond), which frees the file reads;
 * - every 16 MB sent, everything (5 to 10 ms at 50,000 files). The compressed chunks and SSH
 *   packets wait in queues (the link's backlog, the channel's 2 MB) long enough to outlive two
 *   young collections, and only a full one reaches them then.
 */
export function collectStreamGarbage(): StreamCollector {
  const gc = collector();
  const every = (step: number, run: () => void) => {
    let next = step;
    return (bytes: number) => {
      if (bytes < next) return;
      next = bytes + step;
      run();
    };
  };
  // A full collection is gc() with no options: on Node 20, gc({ type: "major" }) frees no
  // buffers at all (checked; Node 24's does).
  return { packed: every(4 * MB, () => gc({ type: "minor" })), sent: every(16 * MB, () => gc()) };
}
