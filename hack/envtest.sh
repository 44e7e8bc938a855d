#!/usr/bin/env bash
# envtest.sh - a real Kubernetes control plane (etcd + kube-apiserver) for tests.
#
# Why: the project's Kubernetes tests must run against the real API server
# (schema validation, status subresources, RBAC, ServiceAccount tokens,
# TokenReview), not a mock, on machines that have no container runtime and
# cannot download release binaries. So the binaries are built from the pinned
# Go modules in hack/envtest/ (plus helm via `go install`), cached outside the
# repository, and run on free 127.0.0.1 ports only, much like
# controller-runtime's envtest.
#
# Usage: hack/envtest.sh COMMAND [ARGS]
#   build              build (or reuse) the cached binaries
#   bin-dir            print the cached binary directory (builds nothing)
#   start [--watch-pid PID]
#                      start etcd + kube-apiserver; with --watch-pid the plane
#                      is stopped automatically once process PID exits
#   env                print `export ...` lines: eval "$(hack/envtest.sh env)"
#   status             show whether the control plane is running
#   stop [--clean]     stop the processes this script started; --clean also
#                      removes the state directory
#   clean              same as `stop --clean`
#
# Environment:
#   CLEF_PRO_ENVTEST_CACHE  binary cache root
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/clef-pro/envtest)
#   CLEF_PRO_ENVTEST_DIR    state directory (default: a new mktemp directory,
#                           remembered in the cache root for env/stop/status)
#   CLEF_PRO_ENVTEST_START_TIMEOUT  seconds to wait for /readyz (default 120)
#   GO                      go command (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "${SCRIPT_DIR}/.." && pwd -P)
MODULE_DIR="${SCRIPT_DIR}/envtest"
SELF="${SCRIPT_DIR}/$(basename -- "${BASH_SOURCE[0]}")"

# Helm is installed with `go install helm.sh/helm/v3/cmd/helm@VERSION`, so its
# pin lives here rather than in hack/envtest/go.mod.
HELM_VERSION="v3.22.0"
# Bump when the way binaries are built changes, to invalidate old caches.
RECIPE_REVISION="1"

CACHE_ROOT="${CLEF_PRO_ENVTEST_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/clef-pro/envtest}"
STATE_MARKER=".clef-pro-envtest"
BINARIES=(kube-apiserver etcd kubectl helm)

export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0

log() { printf 'envtest: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

go_cmd() {
  if [[ -n "${GO:-}" ]]; then
    printf '%s\n' "${GO}"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    die "no Go toolchain found (set GO=/path/to/go); Go >= 1.25 is required"
  fi
}

# Version of a module as required by hack/envtest/go.mod.
mod_version() {
  local v
  v=$(awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "${MODULE_DIR}/go.mod")
  [[ -n "${v}" ]] || die "module $1 not found in ${MODULE_DIR}/go.mod"
  printf '%s\n' "${v}"
}

K8S_VERSION=$(mod_version k8s.io/kubernetes)
ETCD_VERSION=$(mod_version go.etcd.io/etcd/server/v3)

# Cache key: versions plus a hash of everything that determines the build.
recipe_hash() {
  {
    printf 'recipe=%s helm=%s\n' "${RECIPE_REVISION}" "${HELM_VERSION}"
    "$(go_cmd)" env GOVERSION GOOS GOARCH
    cat "${MODULE_DIR}/go.mod" "${MODULE_DIR}/go.sum"
    find "${MODULE_DIR}/cmd" -type f -name '*.go' -print0 | LC_ALL=C sort -z | xargs -0 cat
  } | sha256sum | cut -c1-12
}

cache_dir() {
  printf '%s/k8s-%s-etcd-%s-helm-%s-%s\n' "${CACHE_ROOT}" "${K8S_VERSION}" \
    "${ETCD_VERSION}" "${HELM_VERSION}" "$(recipe_hash)"
}

binaries_present() {
  local dir=$1 b
  for b in "${BINARIES[@]}"; do
    [[ -x "${dir}/bin/${b}" ]] || return 1
  done
  [[ -f "${dir}/manifest.txt" ]]
}

# ---------------------------------------------------------------- build

cmd_build() {
  local final go tmp
  final=$(cache_dir)
  if binaries_present "${final}"; then
    log "binaries up to date in ${final}/bin"
    return 0
  fi
  go=$(go_cmd)
  mkdir -p "${CACHE_ROOT}"
  # Serialise concurrent builds (e.g. two test runs) on the cache root.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${CACHE_ROOT}/.build.lock"
    flock 9
    if binaries_present "${final}"; then
      exec 9>&-
      log "binaries up to date in ${final}/bin"
      return 0
    fi
  fi

  # Leftovers of builds that were killed outright (kill -9, power loss).
  find "${CACHE_ROOT}" -maxdepth 1 -name '.build.*' -type d -mmin +120 \
    -exec rm -rf -- {} + 2>/dev/null || true
  tmp=$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf -- '${tmp}'" EXIT
  trap 'exit 130' INT TERM # so that the EXIT trap cleans up on Ctrl-C too
  mkdir -p "${tmp}/bin"

  local major minor build_date k8s_ldflags helm_mod helm_k8s helm_major helm_minor
  major=${K8S_VERSION#v}; major=${major%%.*}
  minor=${K8S_VERSION#v"${major}".}; minor=${minor%%.*}
  # A reproducible build date: the release's publication time on the proxy.
  build_date=$(cd "${MODULE_DIR}" && "${go}" list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
  [[ -n "${build_date}" ]] || build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

  # What kube::version::ldflags stamps upstream, for both version packages.
  # The module proxy carries no git metadata, so gitCommit stays empty and the
  # tree state is "archive" (a source archive of the release tag).
  k8s_ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION}"
    k8s_ldflags+=" -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    k8s_ldflags+=" -X ${pkg}.gitCommit= -X ${pkg}.gitTreeState=archive"
    k8s_ldflags+=" -X ${pkg}.buildDate=${build_date}"
  done

  log "building kube-apiserver ${K8S_VERSION}, kubectl ${K8S_VERSION}, etcd ${ETCD_VERSION} (first build takes several minutes)"
  (cd "${MODULE_DIR}" && GOFLAGS="-mod=readonly -buildvcs=false" \
    "${go}" build -trimpath -ldflags "${k8s_ldflags}" -o "${tmp}/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver ./cmd/etcd ./cmd/kubectl)

  # Helm's Makefile derives the default Kubernetes version of
  # `helm template` from the client-go it is built with; do the same.
  helm_mod=$(cd "${tmp}" && GOFLAGS='' "${go}" mod download -json "helm.sh/helm/v3@${HELM_VERSION}" |
    awk -F'"' '$2 == "GoMod" { print $4 }')
  helm_k8s=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "${helm_mod}")
  helm_major=${helm_k8s#v}; helm_major=$(( ${helm_major%%.*} + 1 ))
  helm_minor=${helm_k8s#v*.}; helm_minor=${helm_minor%%.*}
  log "installing helm ${HELM_VERSION}"
  (cd "${tmp}" && GOBIN="${tmp}/bin" GOFLAGS="-buildvcs=false" "${go}" install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${helm_major} -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${helm_minor} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${helm_major} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${helm_minor}" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}")

  {
    printf 'kubernetes %s\netcd %s\nhelm %s\n' "${K8S_VERSION}" "${ETCD_VERSION}" "${HELM_VERSION}"
    printf 'go %s\nbuild_date %s\n' "$("${go}" env GOVERSION)" "${build_date}"
  } >"${tmp}/manifest.txt"
  for pkg in "${BINARIES[@]}"; do
    [[ -x "${tmp}/bin/${pkg}" ]] || die "build produced no ${pkg}"
  done

  chmod 755 "${tmp}"
  # Publish atomically: a rename within the cache root, never a partial dir.
  rm -rf -- "${final}"
  mv -T -- "${tmp}" "${final}"
  trap - EXIT INT TERM
  # Release the lock; the processes that `start` spawns must not inherit it.
  exec 9>&-
  log "binaries ready in ${final}/bin"
}

cmd_bin_dir() {
  local dir
  dir=$(cache_dir)
  binaries_present "${dir}" || die "binaries not built yet: run $0 build"
  printf '%s/bin\n' "${dir}"
}

# ---------------------------------------------------------------- state

# Where `start` without CLEF_PRO_ENVTEST_DIR remembers its mktemp directory,
# one pointer per checkout so two work trees do not share a control plane.
pointer_file() {
  printf '%s/current-%s\n' "${CACHE_ROOT}" "$(printf '%s' "${REPO_ROOT}" | sha256sum | cut -c1-12)"
}

# The state directory of an existing control plane (empty if none).
state_dir() {
  local dir=""
  if [[ -n "${CLEF_PRO_ENVTEST_DIR:-}" ]]; then
    dir=${CLEF_PRO_ENVTEST_DIR}
  elif [[ -f "$(pointer_file)" ]]; then
    dir=$(<"$(pointer_file)")
  fi
  if [[ -n "${dir}" && -d "${dir}" ]]; then
    dir=$(cd -- "${dir}" && pwd -P)
  fi
  printf '%s\n' "${dir}"
}

# True when PID is alive and is our binary running with our state dir.
is_ours() {
  local pid=$1 exe=$2 dir=$3 cmdline
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/${pid}/cmdline" ]] || return 1
  local actual
  actual=$(readlink "/proc/${pid}/exe" 2>/dev/null) || return 1
  [[ "${actual% (deleted)}" == "${exe}" ]] || return 1
  cmdline=$(tr '\0' '\n' <"/proc/${pid}/cmdline" 2>/dev/null) || return 1
  [[ "${cmdline}" == *"${dir}"* ]]
}

# Prints the PID of component NAME if it is running and ours.
running_pid() {
  local dir=$1 name=$2 pid bin
  [[ -f "${dir}/${name}.pid" ]] || return 1
  pid=$(<"${dir}/${name}.pid")
  bin=$(sed -n 's/^BIN_DIR=//p' "${dir}/endpoints.env" 2>/dev/null)
  is_ours "${pid}" "${bin}/${name}" "${dir}" || return 1
  printf '%s\n' "${pid}"
}

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

gen_pki() {
  local pki=$1
  mkdir -p "${pki}"
  chmod 700 "${pki}"
  (
    cd "${pki}"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=clef-pro-envtest-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    # kube-apiserver serving certificate, valid for loopback only.
    openssl req -new "${ec[@]}" -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
      >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    # Cluster admin: a client certificate in group system:masters.
    openssl req -new "${ec[@]}" -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=clef-pro-admin" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=clientAuth" >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile admin.ext -out admin.crt 2>/dev/null
    # ServiceAccount token signing key pair.
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    chmod 600 ./*.key
  )
}

write_kubeconfig() {
  local dir=$1 server=$2
  cat >"${dir}/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: ${server}
    certificate-authority: ${dir}/pki/ca.crt
users:
- name: envtest-admin
  user:
    client-certificate: ${dir}/pki/admin.crt
    client-key: ${dir}/pki/admin.key
contexts:
- name: envtest
  context:
    cluster: envtest
    user: envtest-admin
current-context: envtest
EOF
  chmod 600 "${dir}/kubeconfig"
}

# Starts "$@" detached in its own session; writes its PID (the exec'd
# program itself, not a wrapper) to PIDFILE and its output to LOGFILE.
spawn() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f "${pidfile}"
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo "$$" >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
    "${pidfile}" "$@" </dev/null >>"${logfile}" 2>&1 &
  # Wait until the wrapper has written its PID and exec'd the program, so
  # that ownership checks (/proc/PID/exe) see the real binary.
  local i pid
  for ((i = 0; i < 200; i++)); do
    if [[ -s "${pidfile}" ]]; then
      pid=$(<"${pidfile}")
      [[ "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "$1" ]] && return 0
      [[ -e "/proc/${pid}" ]] || return 0 # exited at once: the caller reports it
    fi
    sleep 0.05
  done
  die "could not start $1"
}

tail_logs() {
  local dir=$1 f
  for f in etcd.log kube-apiserver.log; do
    [[ -f "${dir}/${f}" ]] || continue
    printf '\n==> %s (last 40 lines) <==\n' "${dir}/${f}" >&2
    tail -n 40 "${dir}/${f}" >&2
  done
}

# Launches etcd + kube-apiserver once; returns 2 if a port was taken
# (so the caller can retry with fresh ports), 1 on other failures.
launch() {
  local dir=$1 bin=$2 timeout=$3
  local ports etcd_port peer_port api_port
  read -r etcd_port peer_port api_port <<<"$(free_ports 3)"
  local etcd_url="http://127.0.0.1:${etcd_port}"
  local server="https://127.0.0.1:${api_port}"
  ports="${etcd_port} ${peer_port} ${api_port}"
  : >"${dir}/etcd.log"
  : >"${dir}/kube-apiserver.log"
  cat >"${dir}/endpoints.env" <<EOF
BIN_DIR=${bin}
SERVER=${server}
ETCD_URL=${etcd_url}
PORTS=${ports}
EOF
  write_kubeconfig "${dir}" "${server}"

  spawn "${dir}/etcd.pid" "${dir}/etcd.log" "${bin}/etcd" \
    --name=envtest \
    --data-dir="${dir}/etcd-data" \
    --listen-client-urls="${etcd_url}" \
    --advertise-client-urls="${etcd_url}" \
    --listen-peer-urls="http://127.0.0.1:${peer_port}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${peer_port}" \
    --initial-cluster="envtest=http://127.0.0.1:${peer_port}" \
    --unsafe-no-fsync=true \
    --quota-backend-bytes=2147483648 \
    --log-level=warn

  # Let etcd listen before kube-apiserver dials it (keeps the log readable).
  local i
  for ((i = 0; i < 200; i++)); do
    (: <"/dev/tcp/127.0.0.1/${etcd_port}") 2>/dev/null && break
    running_pid "${dir}" etcd >/dev/null || break
    sleep 0.05
  done

  local pki="${dir}/pki" issuer="https://kubernetes.default.svc.cluster.local"
  # Flags follow controller-runtime's envtest defaults, with real authn:
  # client-certificate authentication, RBAC authorization and ServiceAccount
  # token signing. There is no kube-controller-manager, so the endpoint
  # reconciler is off (it would publish a loopback Endpoints, which
  # validation rejects) and the ServiceAccount admission plugin expects each
  # namespace's "default" ServiceAccount to be created by the test.
  spawn "${dir}/kube-apiserver.pid" "${dir}/kube-apiserver.log" "${bin}/kube-apiserver" \
    --etcd-servers="${etcd_url}" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="${api_port}" \
    --tls-cert-file="${pki}/apiserver.crt" \
    --tls-private-key-file="${pki}/apiserver.key" \
    --client-ca-file="${pki}/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-issuer="${issuer}" \
    --api-audiences="${issuer}" \
    --service-account-key-file="${pki}/sa.pub" \
    --service-account-signing-key-file="${pki}/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --profiling=false \
    --v=1

  local deadline=$((SECONDS + timeout)) name
  while ((SECONDS < deadline)); do
    for name in etcd kube-apiserver; do
      if ! running_pid "${dir}" "${name}" >/dev/null; then
        if grep -qi 'address already in use' "${dir}/${name}.log"; then
          log "${name}: port taken, retrying with new ports"
          stop_components "${dir}"
          return 2
        fi
        log "${name} exited during start-up"
        tail_logs "${dir}"
        stop_components "${dir}"
        return 1
      fi
    done
    if "${bin}/kubectl" --kubeconfig="${dir}/kubeconfig" --request-timeout=5s \
      get --raw=/readyz >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  log "kube-apiserver was not ready within ${timeout}s"
  "${bin}/kubectl" --kubeconfig="${dir}/kubeconfig" --request-timeout=5s \
    get --raw='/readyz?verbose' >&2 || true
  tail_logs "${dir}"
  stop_components "${dir}"
  return 1
}

# Starts a detached watcher that stops the plane once a given PID exits.
watch_pid() {
  local dir=$1 pid=$2
  # shellcheck disable=SC2016 # expanded by the inner bash
  CLEF_PRO_ENVTEST_DIR="${dir}" setsid bash -c '
    while kill -0 "$1" 2>/dev/null && [[ -f "$2/endpoints.env" ]]; do sleep 1; done
    if [[ -f "$2/endpoints.env" ]]; then
      echo "watched process $1 exited; stopping the control plane"
      exec "$0" stop
    fi
  ' "${SELF}" "${pid}" "${dir}" </dev/null >>"${dir}/watcher.log" 2>&1 &
}

cmd_start() {
  local watch=""
  while (($#)); do
    case "$1" in
      --watch-pid) watch=${2:?--watch-pid needs a PID}; shift 2 ;;
      *) die "start: unknown argument $1" ;;
    esac
  done
  command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
  command -v python3 >/dev/null || die "python3 is required to pick free ports"
  cmd_build
  local bin dir
  bin=$(cd -- "$(cache_dir)/bin" && pwd -P)
  dir=$(state_dir)
  if [[ -n "${dir}" ]] && running_pid "${dir}" kube-apiserver >/dev/null; then
    log "already running (state dir ${dir}); run '$0 stop' first to restart"
    return 0
  fi
  if [[ -n "${CLEF_PRO_ENVTEST_DIR:-}" ]]; then
    dir=${CLEF_PRO_ENVTEST_DIR}
    mkdir -p "${dir}"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/clef-pro-envtest.XXXXXX")
    mkdir -p "${CACHE_ROOT}"
    printf '%s\n' "${dir}" >"$(pointer_file)"
  fi
  dir=$(cd -- "${dir}" && pwd -P)
  touch "${dir}/${STATE_MARKER}"
  [[ -f "${dir}/pki/sa.key" ]] || gen_pki "${dir}/pki"
  rm -rf -- "${dir}/etcd-data"

  local timeout=${CLEF_PRO_ENVTEST_START_TIMEOUT:-120} attempt rc
  local started=${SECONDS}
  for attempt in 1 2 3; do
    rc=0
    launch "${dir}" "${bin}" "${timeout}" || rc=$?
    ((rc == 2)) || break
    rm -rf -- "${dir}/etcd-data"
  done
  if ((rc != 0)); then
    mv -f "${dir}/endpoints.env" "${dir}/endpoints.env.stopped" 2>/dev/null || true
    die "control plane failed to start (state dir ${dir}, attempt ${attempt})"
  fi
  [[ -z "${watch}" ]] || watch_pid "${dir}" "${watch}"
  log "control plane ready in $((SECONDS - started))s: $(sed -n 's/^SERVER=//p' "${dir}/endpoints.env")"
  log "state dir ${dir}; use: eval \"\$($0 env)\""
}

# Stops kube-apiserver then etcd (SIGTERM, then SIGKILL after 15s).
stop_components() {
  local dir=$1 name pid i
  for name in kube-apiserver etcd; do
    if pid=$(running_pid "${dir}" "${name}"); then
      kill -TERM "${pid}" 2>/dev/null || true
      for ((i = 0; i < 150; i++)); do
        is_ours "${pid}" "$(sed -n 's/^BIN_DIR=//p' "${dir}/endpoints.env")/${name}" "${dir}" || break
        sleep 0.1
      done
      if is_ours "${pid}" "$(sed -n 's/^BIN_DIR=//p' "${dir}/endpoints.env")/${name}" "${dir}"; then
        log "${name} (pid ${pid}) ignored SIGTERM; killing"
        kill -KILL "${pid}" 2>/dev/null || true
      fi
    fi
    rm -f "${dir}/${name}.pid"
  done
}

cmd_stop() {
  local clean=0 dir
  while (($#)); do
    case "$1" in
      --clean) clean=1; shift ;;
      *) die "stop: unknown argument $1" ;;
    esac
  done
  dir=$(state_dir)
  if [[ -z "${dir}" || ! -d "${dir}" ]]; then
    log "no control plane state found; nothing to stop"
    return 0
  fi
  [[ -f "${dir}/${STATE_MARKER}" ]] || die "${dir} is not an envtest state dir; refusing to touch it"
  stop_components "${dir}"
  rm -f "${dir}/endpoints.env.stopped"
  [[ ! -f "${dir}/endpoints.env" ]] || mv -f "${dir}/endpoints.env" "${dir}/endpoints.env.stopped"
  log "stopped control plane in ${dir}"
  if [[ -z "${CLEF_PRO_ENVTEST_DIR:-}" && -f "$(pointer_file)" ]]; then
    rm -f "$(pointer_file)"
  fi
  if ((clean)); then
    rm -rf -- "${dir}"
    log "removed ${dir}"
  fi
}

cmd_env() {
  local dir bin
  dir=$(state_dir)
  [[ -n "${dir}" && -f "${dir}/endpoints.env" ]] || die "control plane not running: run $0 start"
  bin=$(sed -n 's/^BIN_DIR=//p' "${dir}/endpoints.env")
  printf 'export CLEF_PRO_ENVTEST_DIR=%q\n' "${dir}"
  printf 'export KUBECONFIG=%q\n' "${dir}/kubeconfig"
  # shellcheck disable=SC2016 # $PATH is for the eval'ing shell to expand
  printf 'export PATH=%q:"$PATH"\n' "${bin}"
}

cmd_status() {
  local dir name pid rc=0
  dir=$(state_dir)
  if [[ -z "${dir}" || ! -f "${dir}/endpoints.env" ]]; then
    echo "control plane: not running"
    return 3
  fi
  echo "state dir: ${dir}"
  sed -n 's/^SERVER=/server: /p' "${dir}/endpoints.env"
  for name in etcd kube-apiserver; do
    if pid=$(running_pid "${dir}" "${name}"); then
      echo "${name}: running (pid ${pid})"
    else
      echo "${name}: not running"
      rc=3
    fi
  done
  return "${rc}"
}

main() {
  local cmd=${1:-}
  [[ $# -eq 0 ]] || shift
  case "${cmd}" in
    build) cmd_build "$@" ;;
    bin-dir) cmd_bin_dir "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    clean) cmd_stop --clean "$@" ;;
    env) cmd_env "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "${SELF}" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "usage: $0 build|bin-dir|start|env|status|stop [--clean]|clean" ;;
  esac
}

main "$@"
