#!/usr/bin/env bash
# `make demo-cluster`: start the stack, run the whole lifecycle on it (the cluster end-to-end
# test: seed, lifecycle run, two token approvals, sensor-launched promotions run by the daemon,
# then a drifted batch and the retraining the drift sensor launches), print where to look, stop
# the stack (KEEP=1 leaves it running for the UIs; CLUSTER_FLAGS= the repo's training budget).
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE="${1:-$PWD/.aurora-cluster}"
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
stop() { [ "${KEEP:-0}" = 1 ] || "$PY" deploy/cluster/stack.py down --state "$STATE"; }
trap stop EXIT
# shellcheck disable=SC2086  # CLUSTER_FLAGS is a list of flags
"$PY" deploy/cluster/stack.py up --state "$STATE" ${CLUSTER_FLAGS---small-training}
start=$(date +%s)
AURORA_CLUSTER_STATE="$STATE" "$PY" -m pytest -m cluster tests/e2e/test_cluster_lifecycle.py -q -p no:cacheprovider
echo
echo "lifecycle on the cluster profile: $(( $(date +%s) - start )) s. Where to look:"
"$PY" deploy/cluster/stack.py status --state "$STATE"
echo "AURORA_HOME (Delta lake, reports): $STATE/home"
echo "environment of a cluster client:  source $STATE/cluster.env"
if [ "${KEEP:-0}" = 1 ]; then echo "stack left running (KEEP=1): make cluster-down to stop it"; fi
