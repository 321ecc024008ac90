#!/bin/sh
# Records release $1 as the live one, by a rename so that `current` is never half written.
# Inputs: the layout's CURRENT; $1.
printf '%s\n' "$1" > "$CURRENT.new" && mv -f "$CURRENT.new" "$CURRENT"
