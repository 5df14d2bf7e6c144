#!/usr/bin/env bash
# `make demo-down`: stop the demo's producer, worker and broker.
set -uo pipefail
cd "$(dirname "$0")/.."
for name in producer worker; do
  pidfile=var/demo/$name.pid
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null && echo "stopped $name"
    rm -f "$pidfile"
  fi
done
.venv/bin/civicpulse kafka down
