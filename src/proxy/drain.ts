/**
 * The exchanges in flight per upstream address (forwarded requests, websocket tunnels, event
 * streams): what a blue-green switch waits for on the containers it leaves, then cuts.
 */

/** How an upstream is named here: `host:port`. */
export function addressKey(upstream: { host: string; port: number }): string {
  return `${upstream.host}:${upstream.port}`;
}

export class InFlight {
  /** Per address, each exchange's way to cut it (destroy its client's socket). */
  private readonly open = new Map<string, Set<() => void>>();
  private readonly idleWaiters = new Map<string, Set<() => void>>();

  /** One exchange begins towards ADDRESS; the function returned ends it (called again, it does nothing). */
  begin(address: string, cancel: () => void): () => void {
    let exchanges = this.open.get(address);
    if (exchanges === undefined) {
      exchanges = new Set();
      this.open.set(address, exchanges);
    }
    // Its own entry: the same cancel function twice is two exchanges.
    const entry = () => cancel();
    exchanges.add(entry);
    return () => this.end(address, entry);
  }

  private end(address: string, entry: () => void): void {
    const exchanges = this.open.get(address);
    if (!exchanges?.delete(entry) || exchanges.size > 0) return;
    this.open.delete(address);
    const waiters = this.idleWaiters.get(address);
    this.idleWaiters.delete(address);
    for (const waiter of waiters ?? []) waiter();
  }

  count(address: string): number {
    return this.open.get(address)?.size ?? 0;
  }

  /** Resolves once nothing is in flight to ADDRESS (at once if nothing is). */
  whenIdle(address: string): Promise<void> {
    if (this.count(address) === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let waiters = this.idleWaiters.get(address);
      if (waiters === undefined) {
        waiters = new Set();
        this.idleWaiters.set(address, waiters);
      }
      waiters.add(resolve);
    });
  }

  /** Cuts every exchange still in flight to ADDRESS; answers how many were cut. */
  cut(address: string): number {
    const exchanges = [...(this.open.get(address) ?? [])];
    for (const entry of exchanges) {
      this.end(address, entry);
      entry();
    }
    return exchanges.length;
  }

  /**
   * Lets the exchanges on ADDRESSES end by themselves for up to `timeoutMs`, then cuts what is
   * left. Answers how long it waited and how many it cut.
   */
  async drain(addresses: readonly string[], timeoutMs: number): Promise<{ ms: number; cut: number }> {
    const began = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs))));
    await Promise.race([Promise.all(addresses.map((address) => this.whenIdle(address))), deadline]);
    clearTimeout(timer);
    const cut = addresses.reduce((sum, address) => sum + this.cut(address), 0);
    return { ms: Date.now() - began, cut };
  }
}
