#!/usr/bin/env bash
# Runs the N pods of a Kubernetes Indexed Job as N local processes: the same command, the same
# arguments and the same environment as the pods, so a sharded recovery can be rehearsed (and is
# tested in CI, on the demo) without a cluster.
#
#   scripts/run-shards.sh N [--job FILE] [--set NAME=VALUE ...] [--tool PATH] [--logs-to DIR]
#
#   N            the number of shards: the Job's completions and its SHARDS variable
#   --job FILE   the Job manifest (default deploy/kubernetes/plan-job.yaml; the apply Job is
#                deploy/kubernetes/apply-job.yaml)
#   --set N=V    overrides a variable of the pod's environment (the paths: LOGS, SNAPSHOT, WORK;
#                the window: WINDOW_FROM, WINDOW_TO); repeatable
#   --tool PATH  the recover-tool to run for the container's 'recover-tool' (default: on PATH)
#   --logs-to D  each pod's standard output and error go to D/shard-K.out (default: a new
#                directory under /tmp, named at the end)
#
# Pod K gets the container's env values, JOB_COMPLETION_INDEX=K, and SHARDS=N; a value the
# manifest takes from a Secret (DATABASE_URL) is taken from this shell's environment instead, and
# left unset if this shell has none (libpq then uses PGHOST, PGDATABASE, ...). $(VAR) in the
# command and arguments is expanded as the kubelet does. At most the Job's parallelism run at once.
# Exit status: 0 when every pod exited 0; otherwise the status of the first pod that failed.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import os, re, shutil, subprocess, sys, tempfile, time
import yaml

def usage(message):
    print(f"run-shards: {message}; see the top of scripts/run-shards.sh", file=sys.stderr)
    sys.exit(64)

args = sys.argv[1:]
if not args or not args[0].isdigit() or int(args[0]) < 1:
    usage("the first argument must be N, the number of shards (1 or more)")
n = int(args[0])
job_file, tool, logs_to, overrides = "deploy/kubernetes/plan-job.yaml", None, None, {}
i = 1
while i < len(args):
    option = args[i]
    if option in ("--job", "--set", "--tool", "--logs-to") and i + 1 < len(args):
        value = args[i + 1]
        if option == "--job": job_file = value
        elif option == "--tool": tool = os.path.abspath(value)
        elif option == "--logs-to": logs_to = value
        else:
            name, eq, v = value.partition("=")
            if not eq or not name: usage(f"'--set {value}' is not NAME=VALUE")
            overrides[name] = v
        i += 2
    else:
        usage(f"unknown option or missing value '{option}'")

with open(job_file) as f:
    job = yaml.safe_load(f)
spec = job.get("spec", {})
if job.get("kind") != "Job" or spec.get("completionMode") != "Indexed":
    usage(f"'{job_file}' is not an Indexed Job")
containers = spec["template"]["spec"]["containers"]
if len(containers) != 1:
    usage(f"'{job_file}' has {len(containers)} containers; one is expected")
container = containers[0]
parallelism = min(n, int(spec.get("parallelism", 1)))

def expand(text, env):
    """$(VAR) -> env[VAR] when VAR is defined, $$ -> $, anything else as written (the kubelet's rule)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)

def pod_environment(k):
    env = dict(os.environ)
    pod = {"JOB_COMPLETION_INDEX": str(k)}
    for entry in container.get("env", []):
        name = entry["name"]
        if "value" in entry:
            pod[name] = expand(str(entry["value"]), pod)
        elif name in os.environ:
            pod[name] = os.environ[name]  # a Secret's value: this shell's
        else:
            env.pop(name, None)
    pod.update(overrides)
    pod["SHARDS"] = str(n)
    pod["JOB_COMPLETION_INDEX"] = str(k)
    env.update(pod)
    if tool:
        env["PATH"] = os.path.dirname(tool) + os.pathsep + env.get("PATH", "")
    return env, pod

def pod_command(pod):
    argv = [expand(a, pod) for a in container.get("command", []) + container.get("args", [])]
    if tool and argv and argv[0] == "recover-tool":
        argv[0] = tool
    return argv

logs_to = logs_to or tempfile.mkdtemp(prefix="run-shards.")
os.makedirs(logs_to, exist_ok=True)
name = job.get("metadata", {}).get("name", job_file)
print(f"run-shards: {n} pods of {name} ({job_file}), {parallelism} at once; output in {logs_to}", flush=True)
pending, running, statuses = list(range(n)), {}, {}
while pending or running:
    while pending and len(running) < parallelism:
        k = pending.pop(0)
        env, pod = pod_environment(k)
        argv = pod_command(pod)
        out = open(os.path.join(logs_to, f"shard-{k}.out"), "w")
        print(f"run-shards: pod {k}: {' '.join(argv)}", flush=True)
        running[k] = (subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT), out, time.time())
    for k, (process, out, started) in list(running.items()):
        status = process.poll()
        if status is None: continue
        out.close()
        statuses[k] = status
        del running[k]
        print(f"run-shards: pod {k} exited {status} after {time.time() - started:.1f} s", flush=True)
    time.sleep(0.05)
failed = [k for k in range(n) if statuses[k] != 0]
if failed:
    for k in failed:
        print(f"run-shards: pod {k} failed (exit {statuses[k]}); its output:", file=sys.stderr)
        with open(os.path.join(logs_to, f"shard-{k}.out")) as f:
            sys.stderr.write("".join("    " + line for line in f.readlines()[-20:]))
    sys.exit(statuses[failed[0]] if statuses[failed[0]] > 0 else 1)
print(f"run-shards: all {n} pods exited 0")
PY
