import { ListrLogger, type ListrRendererValue, PRESET_TIMESTAMP, ProcessOutput } from "listr2";

/**
 * Progress goes to stderr so that stdout carries only the result (`--json`): the task list on
 * a terminal, a timestamped line per event elsewhere or with --verbose (so that traced remote
 * commands read in order), nothing with --quiet. A terminal that reports no width (script(1),
 * some `docker exec -t`) gets the lines too: the live list wrapped there at one character.
 */
export function listrOptions(output: { quiet: boolean; verbose: boolean }) {
  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });
  const live = process.stderr.isTTY === true && (process.stderr.columns ?? 0) >= 20;
  const renderer: ListrRendererValue = output.quiet ? "silent" : output.verbose || !live ? "simple" : "default";
  return {
    renderer,
    fallbackRenderer: "simple" as ListrRendererValue,
    rendererOptions: { logger, collapseSubtasks: false, timestamp: PRESET_TIMESTAMP },
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
