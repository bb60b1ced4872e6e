#!/bin/sh
# Example worker for the git-lanes demo: a stand-in for an AI agent.
# It reads its assignment from the environment git-lanes sets (LANES_ISSUES, LANES_LANE,
# LANES_SIGNAL_DIR), edits the files each issue names, commits, and signals with plain
# `echo` and `touch`, exactly as a seed-style agent would.
#
# Hunting (`git lanes hunt` sets LANES_TASK=hunt_issues), it files what it finds as new issue
# files in its lane's folder, numbered after the highest id there as the seed's hunters do, and
# leaves them for git-lanes to judge. Like a real agent it is not always right: in lane E it also
# files a claim whose check already passes, which the judge rejects.
set -eu
signal() { echo "$1" > "$LANES_SIGNAL_DIR/$LANES_LANE.status"; }
# finding <id> <title> <severity> <path> <check> <problem>: one issue file in the seed's template.
finding() {
  cat > "examples/demo/issues/$LANES_LANE/$1.md" <<EOF
---
issue_id: "$1"
lane: "$LANES_LANE"
severity: $3
severity_level: "MEDIUM"
type_tags: ["hunted"]
status: "OPEN"
affected_paths:
  - "$4"
depends_on: []
blocks: []
time_box: "PT20M"
---

# [LANE $LANES_LANE] Issue $1: $2

## Problem Description

$6

## Evidence

- File: \`$4\`

## Fix Requirements (DO NOT IMPLEMENT)

- [ ] Make the check below pass.

## Verification Commands

\`\`\`bash
# Check 1: $2
$5
\`\`\`

## Dedup Verification

- Result: No duplicates found

- **Status:** OPEN
EOF
}
if [ "${LANES_TASK:-fix_issue}" = hunt_issues ]; then
  signal "STARTING: hunting in lane $LANES_LANE"
  last=$(ls "examples/demo/issues/$LANES_LANE" | sed -n 's/^[A-Za-z]*-\([0-9]*\)\.md$/\1/p' | sort -n | tail -1)
  n=$(( ${last:-0} + 1 ))
  id() { printf '%s-%02d' "$LANES_LANE" "$1"; }
  case "$LANES_LANE" in
    E) finding "$(id $n)" "Attachments are kept forever" 6 examples/demo/config/retention.yaml \
         'grep -q "attachment_days:" examples/demo/config/retention.yaml && echo "PASS" || echo "FAIL"' \
         'The retention policy scans uploads but never deletes them: attachments outlive the tickets they belong to.'
       finding "$(id $((n + 1)))" "Privacy notice does not say data is never sold" 3 examples/demo/config/privacy-notice.md \
         'grep -q "never sold" examples/demo/config/privacy-notice.md && echo "PASS" || echo "FAIL"' \
         'A claim that does not hold: the notice says so already (the judge rejects it).' ;;
    M) finding "$(id $n)" "Order total may be negative" 5 examples/demo/schema/orders.schema.json \
         'grep -q "\"minimum\": 0" examples/demo/schema/orders.schema.json && echo "PASS" || echo "FAIL"' \
         'The order schema accepts a negative total, so refunds and typing errors look alike.' ;;
  esac
  signal "COMPLETE: hunted"
  touch "$LANES_SIGNAL_DIR/$LANES_LANE.done"
  exit 0
fi
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
    E-04) printf '  attachment_days: 90\n' >> examples/demo/config/retention.yaml ;;
    M-03) python3 - <<'PY'
import json
p = "examples/demo/schema/orders.schema.json"
s = json.load(open(p))
s["properties"]["total"]["minimum"] = 0
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
