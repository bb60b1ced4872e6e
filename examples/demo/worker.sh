#!/bin/sh
# Example worker for the git-lanes demo: a stand-in for an AI agent.
# It reads its assignment from the environment git-lanes sets (LANES_ISSUES, LANES_LANE,
# LANES_SIGNAL_DIR), edits the files each issue names, commits, and signals with plain
# `echo` and `touch`, exactly as a seed-style agent would.
set -eu
signal() { echo "$1" > "$LANES_SIGNAL_DIR/$LANES_LANE.status"; }
signal "STARTING: lane $LANES_LANE"
count=0
for id in $(echo "$LANES_ISSUES" | tr ',' ' '); do
  signal "WORKING: $id"
  case "$id" in
    E-01) sed -i.bak 's/^tickets:$/tickets:\n  closed_ticket_days: 365/' examples/demo/config/retention.yaml
          rm -f examples/demo/config/retention.yaml.bak ;;
    E-02) printf '\n## Data requests\n\nSend access or deletion requests to privacy@example.com.\n' >> examples/demo/config/privacy-notice.md ;;
    E-03) printf '\nThe desk is staffed Monday to Friday, 08:00-18:00 CET.\n' >> examples/demo/config/escalation.md ;;
    M-01) python3 - <<'PY'
import json
p = "examples/demo/schema/orders.schema.json"
s = json.load(open(p))
s["properties"]["version"] = {"type": "string"}
s["required"].append("version")
open(p, "w").write(json.dumps(s, indent=2) + "\n")
PY
          ;;
    M-02) python3 - <<'PY'
import json
p = "examples/demo/schema/customers.schema.json"
s = json.load(open(p))
s["properties"]["credit_limit"]["minimum"] = 0
open(p, "w").write(json.dumps(s, indent=2) + "\n")
PY
          ;;
    *) signal "WORKING: $id is not one this example worker knows"; continue ;;
  esac
  git add -A && git commit -q -m "lane $LANES_LANE: fix $id"
  count=$((count + 1))
done
signal "COMPLETE: fixed $count"
touch "$LANES_SIGNAL_DIR/$LANES_LANE.done"
