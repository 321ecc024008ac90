import { type Shell, sh } from "../ssh/quote.js";

/**
 * Runs `body` in a session of its own (setsid), so that a dropped connection or a Ctrl-C,
 * which hang up the SSH session, cannot stop it half-way: the server ends at the old
 * version or the new one, never between. Its output is streamed back from a log file; the
 * worker's pid joins the lock's, so the lock stays held while the worker runs.
 */
export function detached(body: Shell, log: string, pids: string): Shell {
  // The log holds compose's own messages, which quote .env values: only the owner reads it.
  return sh`(umask 077 && : > ${log}) && chmod 600 ${log}
setsid sh -c ${body.code} > ${log} 2>&1 < /dev/null &
worker=$!
echo "$worker" >> ${pids}
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
