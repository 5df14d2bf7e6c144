#!/usr/bin/env bash
# `make demo`: local broker, worker and a live synthetic feed, all in the background.
# Stop everything with `make demo-down`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
RUN=var/demo
mkdir -p "$RUN"

bash deploy/install-system-deps.sh
"$BIN/civicpulse" kafka up

start() { # name, command...
  local name=$1; shift
  if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$RUN/$name.pid"))"
    return
  fi
  nohup "$@" > "$RUN/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
  echo "started $name (pid $!, log $RUN/$name.log)"
}

start worker "$BIN/civicpulse" worker
# The last day of calibrated events at 60x (an hour a minute), then live.
start producer bash -c "'$BIN/civicpulse' produce --speed ${DEMO_SPEED:-60} --days 1 && exec '$BIN/civicpulse' produce --speed 1"

port=${CIVICPULSE_WEB_PORT:-6066}
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break
  sleep 1
done
curl -sf "http://127.0.0.1:$port/metrics" >/dev/null || {
  echo "worker did not come up: see $RUN/worker.log" >&2; tail -20 "$RUN/worker.log" >&2; exit 1; }
sleep 5
cat <<MSG

CivicPulse demo is running.
  metrics:     http://127.0.0.1:$port/metrics
  counts now:  curl -s http://127.0.0.1:$port/metrics | grep '^civicpulse_events_total'
  logs:        $RUN/worker.log, $RUN/producer.log, var/kafka/logs/
  Prometheus/Grafana provisioning: deploy/prometheus, deploy/grafana (see README)
  stop:        make demo-down
MSG
curl -s "http://127.0.0.1:$port/metrics" | grep '^civicpulse_events_total' | head -8 || true
