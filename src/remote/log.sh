#!/bin/sh
# Appends the JSON line $1 to the deploy log. Inputs: the layout's LOG; $1.
umask 077
printf '%s\n' "$1" >> "$LOG"
