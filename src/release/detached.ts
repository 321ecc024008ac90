import { type Shell, sh } from "../ssh/quote.js";
import type { ServerLayout } from "./layout.js";
import { registerWorkerScript } from "./lock.js";

/**
 * Runs `body` in a session of its own (setsid), so that a dropped connection or a Ctrl-C,
 * which hang up the SSH session, cannot stop it half-way. Its output is streamed back from a
 * log file (0600: compose may print what it read); the worker joins the lock's processes, so
 * the lock stays held while it runs.
 */
export function detached(body: Shell, layout: ServerLayout): Shell {
  const log = layout.workerLog;
  return sh`rm -f ${log}; ( umask 077; : > ${log} )
setsid sh -c ${body.code} > ${log} 2>&1 < /dev/null &
worker=$!
( set -- "$worker"
${registerWorkerScript(layout)} )
# GNU tail stops by itself, all output printed, once the worker is gone (checked every 50 ms:
# its default second was most of a small redeploy's time); elsewhere, a pause.
if tail --pid="$$" -n 0 /dev/null 2>/dev/null; then follow="-s 0.05 --pid=$worker"; else follow=; fi
tail -n +1 -f $follow ${log} 2>/dev/null &
tailer=$!
status=0
wait "$worker" || status=$?
# Once all of it went back to the client, the server keeps none of it.
if [ -n "$follow" ]; then wait "$tailer"; : > ${log}; else sleep 0.3; kill "$tailer" 2>/dev/null; fi
exit "$status"`;
}
