import { ListrLogger, PRESET_TIMESTAMP, ProcessOutput } from "listr2";

/** Progress goes to stderr so that stdout carries only the result (`--json`). */
export function listrOptions() {
  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });
  return {
    renderer: "default" as const,
    fallbackRenderer: "simple" as const,
    rendererOptions: { logger, collapseSubtasks: false },
    fallbackRendererOptions: { logger, timestamp: PRESET_TIMESTAMP },
    exitOnError: true,
    registerSignalListeners: false,
  };
}

/** Wraps a step to record how long it took, for the summary's `timings`. */
export function timed<T>(ctx: { timings: Record<string, number> }, step: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  return work().finally(() => {
    ctx.timings[step] = Date.now() - start;
  });
}

