#!/usr/bin/env bash
# Runs every runbook script end to end against a real PostgreSQL on the demo incident
# (fixtures/demo), then scripts/demo.sh, and prints "N passed, M failed".
#
#   scripts/test-runbooks.sh
#
# Uses the server the environment names when scripts/test.sh started one (RECOVER_PGDIR set),
# else starts its own (stopped on exit). Loads the demo into databases of its own
# (rb_tracker, rb_tracker_backup). Builds recover-tool (debug) in RECOVER_SCRATCH_PATH (default
# .build, where scripts/test.sh built it). Exit status: 0 when every check passed, else 1.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

scratch=${RECOVER_SCRATCH_PATH:-.build}
swift build --scratch-path "$scratch" --product recover-tool >/dev/null
tool="$(swift build --scratch-path "$scratch" --show-bin-path)/recover-tool"
work=$(mktemp -d /tmp/rt-runbooks.XXXXXX)
if [ -z "${RECOVER_PGDIR:-}" ]; then
  env=$(bash scripts/pg-start.sh)
  eval "$env"
  trap 'bash scripts/pg-stop.sh "$RECOVER_PGDIR"; rm -rf "$work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
bash scripts/load-demo.sh --live-db rb_tracker --backup-db rb_tracker_backup >/dev/null
export PGDATABASE=rb_tracker
unset DATABASE_URL

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $1"; }
not_ok() { failed=$((failed + 1)); echo "FAILED: $1" >&2; [ ! -f "$work/last.out" ] || sed 's/^/    /' "$work/last.out" >&2; }
q() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }
state() { q "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM time_slots t"; }
schema() { q "SELECT count(*) FROM pg_namespace WHERE nspname = 'recovery'"; }
expected() { python3 -c "import json,sys; print(json.load(open('fixtures/demo/expected.json'))$1)"; }

# Runs the runbook script with the demo's inputs; its status in $rc, its output in $work/last.out.
runbook() {
  set +e
  bash runbooks/recover-lost-window.sh --tool "$tool" --from 2018-07-25T14:50:00Z --to 2018-07-25T17:50:00Z \
    --logs fixtures/demo/logs --snapshot fixtures/demo/snapshot/time_slots.sql.lz4 "$@" >"$work/last.out" 2>&1
  rc=$?
  set -e
}
has() { grep -qF -- "$1" "$work/last.out"; }

before=$(state)
live_before=$(q "SELECT count(*) FROM time_slots")
plan_id=""

name="recover-lost-window.sh without approval stops after the plan (exit 10), nothing written"
runbook --out "$work/rb"
plan_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["plan_id"])' "$work/rb/plan/plan.json" 2>/dev/null || true)
if [ "$rc" = 10 ] && [ -n "$plan_id" ] && has "plan $plan_id is written and waits for review" \
   && has "run this command again with: --approve $plan_id" && [ "$(state)" = "$before" ] && [ "$(schema)" = 0 ]; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="the Kubernetes manifests validate against the API schemas (scripts/check-kubernetes.sh)"
set +e; bash scripts/check-kubernetes.sh >"$work/last.out" 2>&1; rc=$?; set -e
if [ "$rc" = 0 ]; then ok "$name"; else not_ok "$name (exit $rc)"; fi

name="scripts/run-shards.sh 3 runs the plan Job's pods; their plans together are the unsharded plan, before any apply"
set +e
bash scripts/run-shards.sh 3 --tool "$tool" --set LOGS=fixtures/demo/logs \
  --set SNAPSHOT=fixtures/demo/snapshot/time_slots.sql.lz4 --set WORK="$work/k8s" --logs-to "$work/k8s/pods" \
  --set WINDOW_FROM=2018-07-25T14:50:00Z --set WINDOW_TO=2018-07-25T17:50:00Z >"$work/last.out" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ] && has "all 3 pods exited 0" && [ "$(cat "$work"/k8s/plan-{0,1,2}-of-3/rows.tsv | wc -l)" = "$(expected "['plan']['recovered']")" ] \
   && cmp -s <(cat "$work"/k8s/plan-{0,1,2}-of-3/rows.tsv | sort) <(sort "$work/rb/plan/rows.tsv") \
   && grep -q '"index" *: *2' "$work/k8s/plan-2-of-3/plan.json"; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="the sharded path on the Jobs' pods: the plan Job, combine, the apply Job refused without the approved set id, then all at once with it, verify --set"
# Its own live database, planned and applied there (the plans record the database they saw).
bash scripts/load-demo.sh --live-db rb_shards --backup-db rb_shards_backup >/dev/null
shards_state() { PGDATABASE=rb_shards state; }
shards_before=$(shards_state)
pods=(3 --tool "$tool" --set WORK="$work/shards" --logs-to "$work/shards/pods")
set +e
{
  PGDATABASE=rb_shards bash scripts/run-shards.sh "${pods[@]}" --set LOGS=fixtures/demo/logs \
    --set SNAPSHOT=fixtures/demo/snapshot/time_slots.sql.lz4 \
    --set WINDOW_FROM=2018-07-25T14:50:00Z --set WINDOW_TO=2018-07-25T17:50:00Z \
  && "$tool" combine "$work"/shards/plan-{0,1,2}-of-3 --out "$work/shards/set"
} >"$work/last.out" 2>&1
combined=$?
set_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["set_id"])' "$work/shards/set/plan-set.json" 2>/dev/null)
PGDATABASE=rb_shards bash scripts/run-shards.sh "${pods[@]}" --job deploy/kubernetes/apply-job.yaml >>"$work/last.out" 2>&1
unapproved=$?
refused_state=$(shards_state)
PGDATABASE=rb_shards bash scripts/run-shards.sh "${pods[@]}" --job deploy/kubernetes/apply-job.yaml --set PLAN_SET="$set_id" \
  >>"$work/last.out" 2>&1
applied=$?
PGDATABASE=rb_shards "$tool" verify --set "$work/shards/set" >>"$work/last.out" 2>&1
verified=$?
set -e
if [ "$combined" = 0 ] && [ -n "$set_id" ] && has "plan set $set_id" && [ "$unapproved" = 64 ] && [ "$refused_state" = "$shards_before" ] \
   && [ "$applied" = 0 ] && [ "$verified" = 0 ] && has "all 3 pods exited 0" && has "shards 0 to 2 of 3, each once, no slot twice" \
   && [ "$(PGDATABASE=rb_shards q "SELECT count(*) FROM time_slots WHERE source = 'recovered'")" = "$(expected "['plan']['recovered']")" ] \
   && grep -qF "$set_id" "$work/shards/set/report.md" && [ -s "$work/shards/set/report.html" ]; then
  ok "$name"; else not_ok "$name (exit $combined, $unapproved, $applied, $verified)"; fi

name="recover-lost-window.sh with a wrong approval is refused (exit 11), nothing written"
runbook --out "$work/rb" --approve 0000000000000000000000000000000000000000000000000000000000000000
rc1=$rc
echo "${plan_id:0:12}" > "$work/short-approval"
runbook --out "$work/rb" --approved-file "$work/short-approval"
if [ "$rc1" = 11 ] && [ "$rc" = 11 ] && has "refused: the approved id ${plan_id:0:12} is not the id of the plan" \
   && [ "$(state)" = "$before" ] && [ "$(schema)" = 0 ]; then
  ok "$name"; else not_ok "$name (exit $rc1, $rc)"; fi

name="recover-lost-window.sh stops at a missing log path, naming the step"
runbook --out "$work/missing" --logs "$work/no-such-logs"
if [ "$rc" = 1 ] && has "log path '$work/no-such-logs' does not exist" && has "failed at step: check setup (exit 1)" \
   && [ ! -e "$work/missing/plan" ] && [ "$(state)" = "$before" ]; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="recover-lost-window.sh stops at a failing recover-tool step with its status (plan --require-complete: 72), and again on the plan it kept"
runbook --out "$work/complete" --require-complete --approve "$plan_id"
rc1=$rc
if [ "$rc1" = 72 ] && has "failed at step: plan (exit 72)" && ! has "==> apply"; then first=ok; else first=failed; fi
# Run again, the incomplete plan is reused: it was applied (found by walking the runbooks).
runbook --out "$work/complete" --require-complete --approve "$plan_id"
if [ "$first" = ok ] && [ "$rc" = 72 ] && has "has incomplete evidence" && ! has "==> apply" \
   && [ "$(state)" = "$before" ] && [ "$(schema)" = 0 ]; then
  ok "$name"; else not_ok "$name (exit $rc1, $rc)"; fi

name="recover-lost-window.sh refuses to reuse a plan made with other options (exit 12), nothing written"
runbook --out "$work/rb" --to 2018-07-25T16:50:00Z --approve "$plan_id"
rc1=$rc
if [ "$rc1" = 12 ] && has "was made with other options" && has "--to" && ! has "==> apply"; then first=ok; else first=failed; fi
runbook --out "$work/rb" --shard 1/2 --approve "$plan_id"
rc2=$rc
if [ "$first" = ok ] && [ "$rc2" = 12 ] && has "was made with other options" && has "--shard" && ! has "==> apply"; then second=ok; else second=failed; fi
# Half a second is another window (the tool keeps fractions); the same window, logs and snapshot
# written another way are the same plan (an offset, an absolute path with a trailing slash).
runbook --out "$work/rb" --to 2018-07-25T17:50:00.5Z --approve "$plan_id"
rc3=$rc
if [ "$second" = ok ] && [ "$rc3" = 12 ] && has "the plan's is 2018-07-25T17:50:00Z, given now 2018-07-25T17:50:00.5Z"; then third=ok; else third=failed; fi
runbook --out "$work/rb" --from 2018-07-25T07:50:00-07:00 --logs "$PWD/fixtures/demo/logs/"
if [ "$third" = ok ] && [ "$rc" = 10 ] && has "plan $plan_id is written and waits for review" \
   && [ "$(state)" = "$before" ] && [ "$(schema)" = 0 ]; then
  ok "$name"; else not_ok "$name (exit $rc1, $rc2, $rc3, $rc)"; fi

name="recover-lost-window.sh keeps a plan by what it is: a logs folder named with '=', a shard 01/2, a plan made again by hand, a damaged plan.json, env/N without an index"
# (Found by a hostile test.) A folder named 'date=...' was taken for a connection string: the
# same text elsewhere reused this plan, and a trailing slash was refused.
ln -s "$PWD/fixtures/demo/logs" "$work/date=2018-07-25"
runbook --out "$work/eq" --logs "$work/date=2018-07-25"
rc1=$rc
runbook --out "$work/eq" --logs "$work/date=2018-07-25/"
rc2=$rc
runbook --out "$work/sh" --shard 01/2
runbook --out "$work/sh" --shard 01/2
rc3=$rc
# A plan made again by hand into DIR/plan, other logs: the kept options are not its own.
rm -rf "$work/sh/plan"
"$tool" plan --from 2018-07-25T14:50:00Z --to 2018-07-25T17:50:00Z --logs fixtures/demo/logs/app-1 --shard 1/2 \
  --out "$work/sh/plan" --quiet >/dev/null 2>&1 || true
runbook --out "$work/sh" --shard 1/2 --logs fixtures/demo/logs/app-1
rc4=$rc
has "the plan was not made by this script" && hand=ok || hand=failed
cp "$work/sh/plan/plan.json" "$work/sh-plan.json"; echo '{' > "$work/sh/plan/plan.json"
runbook --out "$work/sh" --shard 1/2
rc5=$rc
has "cannot be read" && damaged=ok || damaged=failed
set +e; env -u JOB_COMPLETION_INDEX bash runbooks/recover-lost-window.sh --tool "$tool" --from 2018-07-25T14:50:00Z \
  --to 2018-07-25T17:50:00Z --logs fixtures/demo/logs --out "$work/env" --shard env/2 >"$work/last.out" 2>&1; rc6=$?; set -e
if [ "$rc1" = 10 ] && [ "$rc2" = 10 ] && [ "$rc3" = 10 ] && [ "$rc4" = 10 ] && [ "$hand" = ok ] && [ "$rc5" = 1 ] && [ "$damaged" = ok ] \
   && [ "$rc6" = 64 ] && has "JOB_COMPLETION_INDEX" && [ ! -e "$work/env/plan" ] && [ "$(state)" = "$before" ] && [ "$(schema)" = 0 ]; then
  ok "$name"; else not_ok "$name (exit $rc1, $rc2, $rc3, $rc4 $hand, $rc5 $damaged, $rc6)"; fi

name="recover-lost-window.sh with the approved id applies and verifies; counts match expected.json; its safety dump is of the table the tool writes, whatever PGOPTIONS says"
echo "$plan_id" > "$work/approval"
# A search path in PGOPTIONS that finds another time_slots first: the safety dump read it.
q "CREATE SCHEMA shadow; CREATE TABLE shadow.time_slots (LIKE public.time_slots)" >/dev/null
window_rows=$(q "SELECT count(*) FROM public.time_slots WHERE slot_start >= '2018-07-25T14:50:00Z' AND slot_start < '2018-07-25T17:50:00Z'")
PGOPTIONS="-c search_path=shadow" runbook --out "$work/rb" --approved-file "$work/approval" --operator runbook-ci
q "DROP SCHEMA shadow CASCADE" >/dev/null
recovered=$(expected "['plan']['recovered']")
present=$(expected "['plan']['already_present']") offline=$(expected "['plan']['offline_overlap']")
if [ "$rc" = 0 ] && has "applied plan $plan_id as run 1: planned $recovered, inserted $recovered, dropped 0" \
   && has "run 1 verifies" && has "plan $plan_id applied as run 1 and verified" \
   && [ "$(q "SELECT count(*) FROM time_slots")" = $((live_before + recovered)) ] \
   && [ "$(q "SELECT count(*) FROM time_slots WHERE source = 'recovered'")" = "$recovered" ] \
   && [ "$(q "SELECT plan_id || ' ' || operator || ' ' || inserted FROM recovery.runs")" = "$plan_id runbook-ci $recovered" ] \
   && [ "$(python3 -c "import json; c = json.load(open('$work/rb/plan/plan.json'))['counts']; print(c['already_present'], c['offline_overlap'])")" = "$present $offline" ] \
   && [ "$(lz4 -dc "$work"/rb/safety/time_slots-*.copy.lz4 | wc -l)" = "$window_rows" ]; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="recover-lost-window.sh again with the same approval changes nothing"
after=$(state)
runbook --out "$work/rb" --approve "$plan_id"
if [ "$rc" = 0 ] && has "was already applied as run 1" && has "run 1 verifies" && [ "$(state)" = "$after" ]; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="recover-lost-window.sh refuses a DIR another run of it is using (exit 14), nothing done"
( flock "$work/rb/.lock" sleep 4 ) & holder=$!
sleep 1
runbook --out "$work/rb" --approve "$plan_id"
wait "$holder"
if [ "$rc" = 14 ] && has "another run of this script is using $work/rb" && [ "$(state)" = "$after" ]; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="the runbook's revert removes exactly what the run inserted"
set +e; "$tool" revert --run 1 --yes >"$work/last.out" 2>&1; rc=$?; set -e
if [ "$rc" = 0 ] && has "reverted run 1: deleted $recovered slots" && [ "$(state)" = "$before" ]; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="recover-lost-window.sh on a plan whose run was reverted says so (exit 13), not 'applied and verified'; its line applies it again"
# A password in --db (the test server trusts: it is not checked) is not printed.
runbook --out "$work/rb" --approve "$plan_id" --db "host=$PGHOST dbname=rb_tracker password=S3cretPw&Tail9" --operator "runbook ci"
rc1=$rc
{ has "S3cretPw" || has "Tail9"; } && rc1="$rc1 (the password was printed)"
again=$(sed -n 's/^recover-lost-window: to apply it again, once you know why it was reverted: //p' "$work/last.out")
if [ "$rc1" = 13 ] && has "run 1 of plan $plan_id was reverted" && [ -n "$again" ] && ! has "applied as run 1 and verified" \
   && [ "$(state)" = "$before" ]; then
  # The line as printed, typed into a shell: the quoting holds (the --db value has a space).
  set +e; PATH="$(dirname "$tool"):$PATH" bash -c "$again" >"$work/last.out" 2>&1; rc=$?; set -e
  reapplied=$(q "SELECT operator FROM recovery.runs WHERE id = 2")
  set +e; "$tool" revert --run 2 --yes >>"$work/last.out" 2>&1; set -e
else
  rc=-1 reapplied=""
fi
if [ "$rc" = 0 ] && has "applied plan $plan_id as run 2" && [ "$reapplied" = "runbook ci" ] && [ "$(state)" = "$before" ]; then
  ok "$name"; else not_ok "$name (exit $rc1, $rc)"; fi

name="review-bad-job.sh shows what a bad job changed and changes nothing"
# The bad job: drops the task of some slots (as the Harvest job disassociated records) and deletes two.
changed_rows=$(q "WITH u AS (UPDATE time_slots SET task_id = NULL, updated_at = now() WHERE task_id IS NOT NULL
  AND user_id IN (1005, 1010) AND slot_start >= '2018-07-25T12:00Z' AND slot_start < '2018-07-25T14:00Z' RETURNING 1)
  SELECT count(*) FROM u")
q "DELETE FROM time_slots WHERE id IN (SELECT id FROM time_slots WHERE user_id = 1012
  AND slot_start >= '2018-07-25T12:00Z' AND slot_start < '2018-07-25T14:00Z' ORDER BY id LIMIT 2)" >/dev/null
bad=$(state)
set +e
bash runbooks/review-bad-job.sh --tool "$tool" --from 2018-07-25T04:50:00-07:00 --to 2018-07-25T14:50:00Z \
  --snapshot "host=$PGHOST dbname=rb_tracker_backup" --out "$work/review" >"$work/last.out" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ] && [ "$changed_rows" -gt 0 ] && has "changed since the snapshot: $changed_rows " \
   && grep -q "^missing from live: [2-9]" "$work/last.out" \
   && has "task_id, updated_at" && [ -s "$work/review/diff.json" ] && [ "$(state)" = "$bad" ]; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="review-bad-job.sh stops at a missing snapshot, naming the step"
set +e
bash runbooks/review-bad-job.sh --tool "$tool" --from 2018-07-25T11:50:00Z --to 2018-07-25T14:50:00Z \
  --snapshot "$work/no-such.sql.lz4" --out "$work/review2" >"$work/last.out" 2>&1
rc=$?
set -e
if [ "$rc" = 1 ] && has "failed at step: check setup"; then ok "$name"; else not_ok "$name (exit $rc)"; fi

name="review-bad-job.sh reconciles a generated bad job: plan, review, apply the reviewed plan id (without --snapshot, which it does not use), verify; live ends exactly as expected"
# The generator's own counts against the plan's.
counts_match() {
  python3 - "$1" "$2" <<'PY'
import json, sys
expected, plan = json.load(open(sys.argv[1]))["counts"], json.load(open(sys.argv[2]))["counts"]
diff = {k: (v, plan.get(k)) for k, v in expected.items() if plan.get(k) != v}
print("counts as expected: %s" % sorted(expected.items()) if not diff else "counts differ (expected, planned): %s" % diff)
sys.exit(1 if diff else 0)
PY
}
bj() { python3 -c "import json; print(json.load(open('$work/badjob/expected.json'))['$1'])"; }
set +e
{
  bash scripts/make-bad-job.sh --debug --seed 7 --users 30 --slots-per-user 96 --out "$work/badjob" \
    --live-db rb_badjob --backup-db rb_badjob_backup \
  && bash runbooks/review-bad-job.sh --tool "$tool" --db "host=$PGHOST dbname=rb_badjob" \
       --from 2026-03-01T00:00:00Z --to "$(bj job_to)" --snapshot "$work/badjob/snapshot/before-job.sql.lz4" \
       --job-from "$(bj job_from)" --job-to "$(bj job_to)" --columns "$(bj columns)" --out "$work/bj" \
  && counts_match "$work/badjob/expected.json" "$work/bj/reconcile-plan/plan.json" \
  && plan_id=$(sed -n 's/^  "plan_id" : "\([0-9a-f]*\)",$/\1/p' "$work/bj/reconcile-plan/plan.json") \
  && bash runbooks/review-bad-job.sh --tool "$tool" --db "host=$PGHOST dbname=rb_badjob" \
       --from 2026-03-01T00:00:00Z --to "$(bj job_to)" --out "$work/bj" --apply "$plan_id" \
  && PGDATABASE=rb_badjob bash scripts/check-bad-job.sh "$work/badjob" 1
} >"$work/last.out" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ] && has "counts as expected" && has "run 1 applied and verified" && has "check-bad-job: time_slots (" \
   && ls "$work"/bj/safety/time_slots-review-*.copy.lz4 "$work"/bj/safety/time_slots-before-apply-*.copy.lz4 >/dev/null; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="review-bad-job.sh --apply on a plan whose run was reverted says so (exit 13), not 'applied and verified'"
set +e
{
  "$tool" revert --run 1 --yes --db "host=$PGHOST dbname=rb_badjob" \
  && bash runbooks/review-bad-job.sh --tool "$tool" --db "host=$PGHOST dbname=rb_badjob" \
       --from 2026-03-01T00:00:00Z --to "$(bj job_to)" --snapshot "$work/badjob/snapshot/before-job.sql.lz4" \
       --out "$work/bj" --apply "$plan_id"
} >"$work/last.out" 2>&1
rc=$?
set -e
if [ "$rc" = 13 ] && has "run 1 of plan $plan_id was reverted" && has "--again" && ! has "applied and verified"; then
  ok "$name"; else not_ok "$name (exit $rc)"; fi

name="scripts/demo-reconcile.sh runs end to end"
demo_started=$(date +%s)
set +e
bash scripts/demo-reconcile.sh --out "$work/demo-reconcile" >"$work/last.out" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ] && has "check-bad-job: time_slots (" && has "reverted run " && has "demo-reconcile: every step passed"; then
  ok "$name ($(( $(date +%s) - demo_started )) s)"; else not_ok "$name (exit $rc)"; fi

name="scripts/install.sh installs the binary, a man page man -l reads, and completions bash completes with"
set +e
bash scripts/install.sh "$work/prefix" --configuration debug >"$work/last.out" 2>&1
rc=$?
MANPAGER=cat MANWIDTH=100 man -l "$work/prefix/share/man/man1/recover-tool.1" >>"$work/last.out" 2>/dev/null
man_rc=$?
completed=$(PATH="$work/prefix/bin:$PATH" bash -c 'source "$1"; COMP_WORDS=(recover-tool ap); COMP_CWORD=1
  COMP_LINE="recover-tool ap"; COMP_POINT=${#COMP_LINE}; _recover-tool recover-tool ap recover-tool; printf "%s\n" "${COMPREPLY[@]}"' \
  _ "$work/prefix/share/bash-completion/completions/recover-tool" 2>>"$work/last.out")
set -e
if [ "$rc" = 0 ] && [ "$man_rc" = 0 ] && [ -x "$work/prefix/bin/recover-tool" ] && [ "$completed" = apply ] \
   && has "lost time slots after an incident" && has "--max-slots" \
   && [ -s "$work/prefix/share/zsh/site-functions/_recover-tool" ] && [ -s "$work/prefix/share/fish/vendor_completions.d/recover-tool.fish" ] \
   && [ "$("$work/prefix/bin/recover-tool" --version)" = "$("$tool" --version)" ]; then
  ok "$name"; else not_ok "$name (exit $rc, man $man_rc, completion '$completed')"; fi

name="scripts/demo.sh runs end to end"
demo_started=$(date +%s)
set +e
bash scripts/demo.sh --out "$work/demo" >"$work/last.out" 2>&1
rc=$?
set -e
if [ "$rc" = 0 ] && has "==> verify run 1 again (it reports the revert)" && has "run 1 was reverted at " \
   && has "demo: every step passed"; then
  ok "$name ($(( $(date +%s) - demo_started )) s)"; else not_ok "$name (exit $rc)"; fi

echo "runbook checks took $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
