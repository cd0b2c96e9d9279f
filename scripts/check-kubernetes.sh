#!/usr/bin/env bash
# Checks the Kubernetes manifests in deploy/kubernetes: each against the Kubernetes API schemas
# (kubernetes-validate, offline, strict: an unknown or misspelled field fails), for the oldest
# version whose Job has every field used (1.33: backoffLimitPerIndex and podFailurePolicy are GA)
# and the newest the validator knows; then what the schemas cannot say: each Job is Indexed, its
# completions equal its SHARDS variable, its pods pass --shard, and DATABASE_URL comes from a
# Secret, never from a value in the manifest.
# Exit status: 0 when every check passed, else 1 with one line per problem.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v kubernetes-validate >/dev/null || { echo "check-kubernetes: kubernetes-validate is missing; run scripts/setup.sh" >&2; exit 1; }
for version in 1.33.0 "$(kubernetes-validate --version)"; do
  kubernetes-validate --strict --quiet -k "$version" deploy/kubernetes/*.yaml
done
python3 - deploy/kubernetes/*.yaml <<'PY'
import sys, yaml
problems = []
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc or doc.get("kind") != "Job":
            continue
        spec = doc["spec"]
        container = spec["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container.get("env", [])}
        args = " ".join(container.get("args", []))
        if spec.get("completionMode") != "Indexed":
            problems.append(f"{path}: the Job is not completionMode: Indexed")
        shards = env.get("SHARDS", {}).get("value")
        if str(spec.get("completions")) != shards:
            problems.append(f"{path}: completions {spec.get('completions')} but SHARDS {shards}: one pod per shard")
        if spec.get("parallelism", 1) > spec.get("completions", 1):
            problems.append(f"{path}: parallelism {spec['parallelism']} is more than completions")
        if "--shard=" not in args:
            problems.append(f"{path}: the pods do not pass --shard")
        url = env.get("DATABASE_URL", {})
        if "value" in url or "secretKeyRef" not in url.get("valueFrom", {}):
            problems.append(f"{path}: DATABASE_URL must come from a Secret (valueFrom.secretKeyRef)")
for problem in problems:
    print(f"check-kubernetes: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
echo "check-kubernetes: deploy/kubernetes/*.yaml valid"
