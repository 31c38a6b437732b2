#!/usr/bin/env bash
# Creates a project and a quarkus-bootstrap-v1 run on a running agent-runner (npm start), prints its
# events live, then its artifacts. Settings: AGENT_RUNNER_URL, API_TOKEN, DEMO_PROJECT_PATH, DEMO_GOAL,
# DEMO_PLANNER_MODEL, DEMO_CODER_MODEL, DEMO_TIMEOUT_SECONDS (see scripts/demo-quarkus-workflow.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx tsx scripts/demo-quarkus-workflow.ts "$@"
