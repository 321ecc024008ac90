/**
 * The starts and stops in flight, by container id: one registry per daemon, shared by every wake
 * and by the daemon's own stops, so that two wakes sharing a dependency start it once, and a wake
 * never takes a container that is being stopped for a running one.
 */

export type JobKind = "start" | "stop";

interface Job {
  kind: JobKind;
  done: Promise<void>;
}

export class ContainerJobs {
  private readonly inFlight = new Map<string, Job>();

  /** The containers being started now: what they need must not be stopped meanwhile. */
  startsInFlight(): Set<string> {
    return new Set([...this.inFlight].filter(([, job]) => job.kind === "start").map(([id]) => id));
  }

  /** What is being done to the container now, if anything. */
  busy(id: string): JobKind | undefined {
    return this.inFlight.get(id)?.kind;
  }

  /**
   * Starts it with `begin`, unless a start is already in flight: then that same start is awaited
   * (its failure is this call's too). A stop in flight is awaited first, then the container is
   * started again. True when this call began the start, false when it joined another.
   */
  async start(id: string, begin: () => Promise<void>): Promise<boolean> {
    for (;;) {
      const job = this.inFlight.get(id);
      if (job?.kind === "start") {
        await job.done;
        return false;
      }
      if (job === undefined) {
        await this.run(id, "start", begin);
        return true;
      }
      // A stop that failed leaves the container as it is: the start is tried all the same.
      await job.done.catch(() => undefined);
    }
  }

  /**
   * Stops it with `end`, unless a stop is already in flight: then that one is awaited. A start in
   * flight is awaited first (a container is never stopped halfway through its start).
   */
  async stop(id: string, end: () => Promise<void>): Promise<void> {
    for (;;) {
      const job = this.inFlight.get(id);
      if (job?.kind === "stop") return job.done;
      if (job === undefined) return this.run(id, "stop", end);
      await job.done.catch(() => undefined);
    }
  }

  /** Registers the job before its work begins, and forgets it once done, whatever the outcome. */
  private run(id: string, kind: JobKind, work: () => Promise<void>): Promise<void> {
    const job: Job = { kind, done: Promise.resolve() };
    job.done = Promise.resolve()
      .then(work)
      .finally(() => {
        if (this.inFlight.get(id) === job) this.inFlight.delete(id);
      });
    this.inFlight.set(id, job);
    return job.done;
  }
}
