#!/bin/sh
# Runs the command given as arguments in a session of its own (setsid), so that a dropped
# connection or a Ctrl-C, which hang up the SSH session, cannot stop it half-way. Its output
# is streamed back from the worker log (0600: compose may print what it read), and REGISTER
# (a command line that adds the process $1 to the lock's workers) keeps the lock held while
# it runs. Exits with the command's status.
# Inputs: the layout's WORKER_LOG; REGISTER; the command, as the arguments.
set -u
rm -f "$WORKER_LOG"; ( umask 077; : > "$WORKER_LOG" )
setsid "$@" > "$WORKER_LOG" 2>&1 < /dev/null &
worker=$!
sh -c "$REGISTER" register "$worker"
# GNU tail stops by itself, all output printed, once the worker is gone (checked often: its
# default of once a second would be most of a small redeploy's time); elsewhere, a pause.
if tail --pid="$$" -n 0 /dev/null 2>/dev/null; then follow="-s 0.05 --pid=$worker"; else follow=; fi
# shellcheck disable=SC2086 # $follow is options or none
tail -n +1 -f $follow "$WORKER_LOG" 2>/dev/null &
tailer=$!
status=0
wait "$worker" || status=$?
# Once all of it went back to the client, the server keeps none of it.
if [ -n "$follow" ]; then wait "$tailer"; : > "$WORKER_LOG"; else sleep 0.3; kill "$tailer" 2>/dev/null; fi
exit "$status"
