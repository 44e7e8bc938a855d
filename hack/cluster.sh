#!/usr/bin/env bash
# cluster.sh - a real one-node Kubernetes cluster for the tests, and Clef Pro on it.
#
# Why: the chart, the Dockerfile and the kind walkthrough are only proven by
# pods that start. The test machines have no registry, no kind and no
# systemd, so the node is assembled from Debian packages (containerd, runc,
# the CNI bridge and host-local plugins, docker.io to build images, mmdebstrap)
# and Go modules (kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy from k8s.io/kubernetes with the pins of hack/envtest, which also
# provides kube-apiserver, etcd, kubectl and helm; CoreDNS from its module),
# and every image is made here. Builds are cached outside the repository.
#
# The node lives in its own network namespace: node, pod and Service
# addresses exist only there and on the veth pair to it, nothing is routed
# off this machine, and `down` puts back what the node changed on the host.
#
# Usage: hack/cluster.sh COMMAND
#   build     build (or reuse) the node binaries, the base rootfs and the
#             pause, CoreDNS and PostgreSQL images (images need root)
#   up        build, then start the node and wait until it is Ready (root)
#   install   build the project image from the Dockerfile, load it and install
#             Clef Pro as the README's kind walkthrough does (hack/kind.sh install)
#   image     only build clef-pro:TAG from the Dockerfile and load it into the node
#   env       print `export ...` lines: eval "$(hack/cluster.sh env)"
#   status    show what is running
#   down      stop what `up` started and restore the host
#   addresses print the host side, node and pod addresses (KEY=VALUE lines)
#
# Environment:
#   CLEF_PRO_CLUSTER_CACHE  build cache and node directory
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/clef-pro/cluster)
#   CLEF_PRO_IMAGE_TAG      tag of the image clef-pro:TAG that `install` builds (default dev)
#   GO                      go command (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "${SCRIPT_DIR}/.." && pwd -P)
MODULE_DIR="${SCRIPT_DIR}/cluster"
SELF="${SCRIPT_DIR}/$(basename -- "${BASH_SOURCE[0]}")"

COREDNS_VERSION="v1.13.1"
DEBIAN_SUITE="bookworm"
# What the project's Dockerfile needs of its base image, as Debian packages.
BASE_PACKAGES="python3,python3-pip,python3-venv,python-is-python3,ca-certificates,passwd"
# Bump when the way things are built changes, to invalidate old caches.
RECIPE_REVISION="1"

CACHE_ROOT="${CLEF_PRO_CLUSTER_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/clef-pro/cluster}"
NODE="${CACHE_ROOT}/node"
TAG=${CLEF_PRO_IMAGE_TAG:-dev}

# The node's network: a /30 between the host and the node, the pods' subnet
# and the Services' range, all private and reachable only through the veth.
NETNS=clef-pro-node
NODE_NAME=clef-pro-node
HOST_IF=clefpro-host
NODE_IF=clefpro-node
HOST_IP=10.231.0.1
NODE_IP=10.231.0.2
POD_CIDR=10.231.1.0/24
SERVICE_CIDR=10.231.2.0/24
SERVICE_IP=10.231.2.1
DNS_IP=10.231.2.10
CGROUP=clef-pro-node
CONTEXT=clef-pro-node
PAUSE_IMAGE="localhost/clef-pro-node/pause:1.0"
COREDNS_IMAGE="localhost/clef-pro-node/coredns:${COREDNS_VERSION}"
POSTGRES_IMAGE="localhost/clef-pro-node/postgres:15-${DEBIAN_SUITE}"
# kubelet sets these host-wide sysctls (they are not per network namespace).
HOST_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
# Host directories the node's components create outside its own directory.
HOST_DIRS=(/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /run/containerd
  /var/lib/containerd /run/netns /run/docker /var/lib/docker /etc/cni /opt/cni)
# ... and those dockerd creates while it builds images.
DOCKER_HOST_DIRS=(/run/docker /var/lib/docker /etc/docker /run/containerd)
SERVICES=(etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet kube-proxy)

export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0

log() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

need_root() {
  [[ "$(id -u)" == 0 ]] || die "$1 needs root (network namespace, containerd, kubelet): run it as root, as CI does"
}

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

mod_version() {
  local v
  v=$(awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$1/go.mod")
  [[ -n "${v}" ]] || die "module $2 not found in $1/go.mod"
  printf '%s\n' "${v}"
}

K8S_VERSION=$(mod_version "${MODULE_DIR}" k8s.io/kubernetes)

envtest_bin() { "${SCRIPT_DIR}/envtest.sh" bin-dir; }

# ---------------------------------------------------------------- cache keys

hash_of() { sha256sum | cut -c1-12; }

bin_dir() {
  local h
  h=$({
    printf 'recipe=%s coredns=%s\n' "${RECIPE_REVISION}" "${COREDNS_VERSION}"
    "$(go_cmd)" env GOVERSION GOOS GOARCH
    cat "${MODULE_DIR}/go.mod" "${MODULE_DIR}/go.sum"
    find "${MODULE_DIR}/cmd" -type f -name '*.go' -print0 | LC_ALL=C sort -z | xargs -0 cat
  } | hash_of)
  printf '%s/bin-k8s-%s-coredns-%s-%s\n' "${CACHE_ROOT}" "${K8S_VERSION}" "${COREDNS_VERSION}" "${h}"
}

# This machine's extra CA certificates go into the base, so that a build
# step behind a TLS-intercepting proxy trusts what the host trusts.
extra_cas() {
  find /usr/local/share/ca-certificates -type f -name '*.crt' -print0 2>/dev/null | LC_ALL=C sort -z
}

base_dir() {
  local h
  h=$({
    printf 'recipe=%s suite=%s packages=%s\n' "${RECIPE_REVISION}" "${DEBIAN_SUITE}" "${BASE_PACKAGES}"
    extra_cas | xargs -0 -r cat
  } | hash_of)
  printf '%s/base-%s-%s\n' "${CACHE_ROOT}" "${DEBIAN_SUITE}" "${h}"
}

base_image() { printf 'localhost/clef-pro-node/python:%s-%s\n' "${DEBIAN_SUITE}" "$(basename "$(base_dir)" | sed 's/.*-//')"; }

images_dir() {
  local h
  h=$({
    printf 'recipe=%s %s %s\n' "${RECIPE_REVISION}" "$(bin_dir)" "$(base_dir)"
    find "${MODULE_DIR}/images" -type f -print0 | LC_ALL=C sort -z | xargs -0 cat
  } | hash_of)
  printf '%s/images-%s\n' "${CACHE_ROOT}" "${h}"
}

# ---------------------------------------------------------------- build

lock_cache() {
  mkdir -p "${CACHE_ROOT}"
  exec 9>"${CACHE_ROOT}/.build.lock"
  flock 9
}

unlock_cache() { exec 9>&-; }

build_binaries() {
  local final go tmp
  final=$(bin_dir)
  [[ -f "${final}/manifest.txt" ]] && return 0
  go=$(go_cmd)
  local envtest_k8s
  envtest_k8s=$(mod_version "${SCRIPT_DIR}/envtest" k8s.io/kubernetes)
  [[ "${envtest_k8s}" == "${K8S_VERSION}" ]] ||
    die "hack/cluster/go.mod pins k8s.io/kubernetes ${K8S_VERSION}, hack/envtest/go.mod ${envtest_k8s}: they must match"
  tmp=$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf -- '${tmp}'" EXIT
  trap 'exit 130' INT TERM
  mkdir -p "${tmp}/bin"

  # The version stamp hack/envtest.sh gives kube-apiserver, for the same release.
  local major minor build_date ldflags pkg
  major=${K8S_VERSION#v}
  major=${major%%.*}
  minor=${K8S_VERSION#v"${major}".}
  minor=${minor%%.*}
  build_date=$(cd "${MODULE_DIR}" && "${go}" list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
  [[ -n "${build_date}" ]] || build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION}"
    ldflags+=" -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitCommit= -X ${pkg}.gitTreeState=archive"
    ldflags+=" -X ${pkg}.buildDate=${build_date}"
  done
  log "building kubelet, kube-controller-manager, kube-scheduler, kube-proxy ${K8S_VERSION} (first build takes several minutes)"
  (cd "${MODULE_DIR}" && GOFLAGS="-mod=readonly -buildvcs=false" \
    "${go}" build -trimpath -ldflags "${ldflags}" -o "${tmp}/bin/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy ./cmd/pause)
  log "installing coredns ${COREDNS_VERSION}"
  (cd "${tmp}" && GOBIN="${tmp}/bin" GOFLAGS="-buildvcs=false" "${go}" install -trimpath \
    -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" \
    "github.com/coredns/coredns@${COREDNS_VERSION}")
  for pkg in kubelet kube-controller-manager kube-scheduler kube-proxy pause coredns; do
    [[ -x "${tmp}/bin/${pkg}" ]] || die "build produced no ${pkg}"
  done
  printf 'kubernetes %s\ncoredns %s\ngo %s\nbuild_date %s\n' "${K8S_VERSION}" \
    "${COREDNS_VERSION}" "$("${go}" env GOVERSION)" "${build_date}" >"${tmp}/manifest.txt"
  chmod 755 "${tmp}"
  rm -rf -- "${final}"
  mv -T -- "${tmp}" "${final}"
  trap - EXIT INT TERM
}

build_base() {
  local final tmp
  final=$(base_dir)
  [[ -f "${final}/rootfs.tar" ]] && return 0
  tmp=$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf -- '${tmp}'" EXIT
  trap 'exit 130' INT TERM
  local hooks=() ca
  while IFS= read -r -d '' ca; do
    hooks+=(--customize-hook="copy-in ${ca} /usr/local/share/ca-certificates/")
  done < <(extra_cas)
  # shellcheck disable=SC2016 # "$1" is the rootfs, for mmdebstrap's hook shell
  ((${#hooks[@]} == 0)) || hooks+=(--customize-hook='chroot "$1" update-ca-certificates')
  log "making the Debian ${DEBIAN_SUITE} base (${BASE_PACKAGES}) with mmdebstrap"
  # shellcheck disable=SC2016 # "$1" is the rootfs, for mmdebstrap's hook shell
  mmdebstrap --quiet --variant=minbase --include="${BASE_PACKAGES}" "${hooks[@]}" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    "${DEBIAN_SUITE}" "${tmp}/rootfs.tar"
  chmod 755 "${tmp}"
  rm -rf -- "${final}"
  mv -T -- "${tmp}" "${final}"
  trap - EXIT INT TERM
}

# ---------------------------------------------------------------- docker (builds only)

DOCKER_SOCK="${CACHE_ROOT}/docker.sock"
docker_() { docker -H "unix://${DOCKER_SOCK}" "$@"; }

docker_start() {
  mkdir -p "${CACHE_ROOT}/docker" "${CACHE_ROOT}/docker-exec"
  if [[ -f "${CACHE_ROOT}/dockerd.pid" ]] && is_ours "$(<"${CACHE_ROOT}/dockerd.pid")" /usr/sbin/dockerd "${CACHE_ROOT}"; then
    return 0
  fi
  local d
  for d in "${DOCKER_HOST_DIRS[@]}"; do
    [[ -e "${d}" ]] || printf '%s\n' "${d}"
  done >"${CACHE_ROOT}/docker.host-dirs"
  printf '{}\n' >"${CACHE_ROOT}/daemon.json"
  # No bridge, no iptables, no masquerading, no forwarding: dockerd only
  # builds, on the host's network, and leaves the host's settings alone.
  spawn "${CACHE_ROOT}/dockerd.pid" "${CACHE_ROOT}/dockerd.log" "" /usr/sbin/dockerd \
    --data-root="${CACHE_ROOT}/docker" --exec-root="${CACHE_ROOT}/docker-exec" \
    --pidfile="${CACHE_ROOT}/docker-exec/dockerd.pid" -H "unix://${DOCKER_SOCK}" \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
    --storage-driver=overlay2 --config-file="${CACHE_ROOT}/daemon.json"
  local i
  for ((i = 0; i < 120; i++)); do
    docker_ version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  tail -n 30 "${CACHE_ROOT}/dockerd.log" >&2
  die "dockerd did not start"
}

docker_stop() {
  local pid
  [[ -f "${CACHE_ROOT}/dockerd.pid" ]] || return 0
  pid=$(<"${CACHE_ROOT}/dockerd.pid")
  stop_pid "${pid}" /usr/sbin/dockerd "${CACHE_ROOT}" dockerd
  rm -f "${CACHE_ROOT}/dockerd.pid"
  # dockerd leaves its own network namespace mounted under its exec root.
  unmount_below "${CACHE_ROOT}/docker-exec"
  # The node's containerd shares /run/containerd: leave it while the node runs.
  if [[ -f "${NODE}/node.env" ]] && running_pid containerd >/dev/null; then
    sed -i '\|^/run/containerd$|d' "${CACHE_ROOT}/docker.host-dirs" 2>/dev/null || true
  fi
  restore_host_dirs "${CACHE_ROOT}/docker.host-dirs"
}

docker_base() {
  local image
  image=$(base_image)
  docker_ image inspect "${image}" >/dev/null 2>&1 ||
    docker_ import "$(base_dir)/rootfs.tar" "${image}" >/dev/null
  printf '%s\n' "${image}"
}

# Proxy settings of this machine reach RUN steps as build arguments.
proxy_args() {
  local v
  for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [[ -z "${!v:-}" ]] || printf -- '--build-arg\n%s\n' "${v}"
  done
}

docker_build() {
  local args
  mapfile -t args < <(proxy_args)
  # The classic builder: BuildKit resolves the Dockerfile's `# syntax=` line
  # against a registry, and there is none.
  local output
  # (Its deprecation notice is kept out of the log; a failure prints everything.)
  if ! output=$(DOCKER_BUILDKIT=0 docker_ build --network host "${args[@]}" "$@" 2>&1); then
    printf '%s\n' "${output}" >&2
    return 1
  fi
}

build_images() {
  local final tmp bin base
  final=$(images_dir)
  [[ -f "${final}/postgres.tar" ]] && return 0
  bin=$(bin_dir)
  tmp=$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf -- '${tmp}'; '${SELF}' docker-stop" EXIT
  trap 'exit 130' INT TERM
  docker_start
  base=$(docker_base)
  log "building the pause, CoreDNS and PostgreSQL images"
  local name
  for name in pause coredns; do
    mkdir -p "${tmp}/${name}"
    cp "${bin}/bin/${name}" "${tmp}/${name}/"
    cp "${MODULE_DIR}/images/${name}.Dockerfile" "${tmp}/${name}/Dockerfile"
  done
  docker_build -t "${PAUSE_IMAGE}" "${tmp}/pause"
  docker_build -t "${COREDNS_IMAGE}" "${tmp}/coredns"
  docker_build -t "${POSTGRES_IMAGE}" --build-arg "BASE_IMAGE=${base}" \
    -f "${MODULE_DIR}/images/postgres.Dockerfile" "${MODULE_DIR}/images"
  docker_ save -o "${tmp}/pause.tar" "${PAUSE_IMAGE}"
  docker_ save -o "${tmp}/coredns.tar" "${COREDNS_IMAGE}"
  docker_ save -o "${tmp}/postgres.tar" "${POSTGRES_IMAGE}"
  rm -rf -- "${tmp:?}/pause" "${tmp:?}/coredns"
  chmod 755 "${tmp}"
  rm -rf -- "${final}"
  mv -T -- "${tmp}" "${final}"
  trap - EXIT INT TERM
  docker_stop
}

cmd_build() {
  lock_cache
  find "${CACHE_ROOT}" -maxdepth 1 -name '.build.*' -type d -mmin +120 \
    -exec rm -rf -- {} + 2>/dev/null || true
  build_binaries
  if [[ "$(id -u)" == 0 ]]; then
    build_base
    build_images
  else
    log "not root: skipping the images (the base rootfs and image builds need root)"
  fi
  unlock_cache
  log "node binaries in $(bin_dir)/bin"
}

# ---------------------------------------------------------------- processes

# True when PID is alive, runs EXE and mentions DIR on its command line.
is_ours() {
  local pid=$1 exe=$2 dir=$3 actual
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  actual=$(readlink "/proc/${pid}/exe" 2>/dev/null) || return 1
  [[ "${actual% (deleted)}" == "${exe}" ]] || return 1
  [[ "$(tr '\0' '\n' <"/proc/${pid}/cmdline" 2>/dev/null)" == *"${dir}"* ]]
}

# spawn PIDFILE LOGFILE NETNS PROGRAM ARGS...: detached, in its own session,
# in network namespace NETNS (empty: the host's); PIDFILE gets the program's PID.
spawn() {
  local pidfile=$1 logfile=$2 netns=$3
  shift 3
  rm -f "${pidfile}"
  local enter=()
  [[ -z "${netns}" ]] || enter=(nsenter "--net=/run/netns/${netns}")
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid "${enter[@]}" bash -c 'echo "$$" >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
    "${pidfile}" "$@" </dev/null >>"${logfile}" 2>&1 &
  local i pid
  for ((i = 0; i < 200; i++)); do
    if [[ -s "${pidfile}" ]]; then
      pid=$(<"${pidfile}")
      [[ "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "$1" ]] && return 0
      [[ -e "/proc/${pid}" ]] || return 0
    fi
    sleep 0.05
  done
  die "could not start $1"
}

stop_pid() {
  local pid=$1 exe=$2 dir=$3 name=$4 i
  is_ours "${pid}" "${exe}" "${dir}" || return 0
  kill -TERM "${pid}" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    is_ours "${pid}" "${exe}" "${dir}" || return 0
    sleep 0.1
  done
  log "${name} (pid ${pid}) ignored SIGTERM; killing"
  kill -KILL "${pid}" 2>/dev/null || true
  sleep 0.2
}

exe_of() {
  case "$1" in
    containerd) printf '/usr/bin/containerd\n' ;;
    etcd | kube-apiserver) printf '%s/%s\n' "$(sed -n 's/^ENVTEST_BIN=//p' "${NODE}/node.env")" "$1" ;;
    *) printf '%s/%s\n' "$(sed -n 's/^NODE_BIN=//p' "${NODE}/node.env")" "$1" ;;
  esac
}

running_pid() {
  local name=$1 pid
  [[ -f "${NODE}/${name}.pid" && -f "${NODE}/node.env" ]] || return 1
  pid=$(<"${NODE}/${name}.pid")
  is_ours "${pid}" "$(exe_of "${name}")" "${NODE}" || return 1
  printf '%s\n' "${pid}"
}

# ---------------------------------------------------------------- host state

record_host_dirs() {
  local d
  for d in "${HOST_DIRS[@]}"; do
    [[ -e "${d}" ]] || printf '%s\n' "${d}"
  done >"$1"
}

# Removes the directories listed in FILE (absent before we started), once
# nothing is mounted below them.
restore_host_dirs() {
  local file=$1 d
  [[ -f "${file}" ]] || return 0
  while IFS= read -r d; do
    [[ -n "${d}" && -e "${d}" ]] || continue
    unmount_below "${d}"
    rm -rf --one-file-system -- "${d}" 2>/dev/null || log "could not remove ${d}"
  done <"${file}"
  rm -f "${file}"
}

unmount_below() {
  local m
  # Deepest first; mount points are octal-escaped in /proc/self/mounts.
  awk -v p="$1" '{ gsub(/\\040/, " ", $2) } $2 == p || index($2, p "/") == 1 { print $2 }' /proc/self/mounts |
    sort -r | while IFS= read -r m; do
    umount -l "${m}" 2>/dev/null || true
  done
}

# ---------------------------------------------------------------- PKI and config

gen_pki() {
  local pki=$1
  mkdir -p "${pki}"
  chmod 700 "${pki}"
  (
    cd "${pki}"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=clef-pro-node-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    cert() { # name subject extendedKeyUsage [subjectAltName]
      openssl req -new "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=$3" ${4:+"subjectAltName=$4"} >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    }
    cert apiserver /CN=kube-apiserver serverAuth \
      "IP:${NODE_IP},IP:${SERVICE_IP},IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert admin /O=system:masters/CN=clef-pro-admin clientAuth
    cert kubelet "/O=system:nodes/CN=system:node:${NODE_NAME}" clientAuth
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    chmod 600 ./*.key
  )
}

kubeconfig() { # file user
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ${CONTEXT}
  cluster:
    server: https://${NODE_IP}:6443
    certificate-authority: ${NODE}/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: ${NODE}/pki/$2.crt
    client-key: ${NODE}/pki/$2.key
contexts:
- name: ${CONTEXT}
  context:
    cluster: ${CONTEXT}
    user: $2
current-context: ${CONTEXT}
EOF
  chmod 600 "$1"
}

write_configs() {
  local bin=$1
  mkdir -p "${NODE}/containerd/root" "${NODE}/containerd/state" "${NODE}/cni/net.d" \
    "${NODE}/cni/ipam" "${NODE}/kubelet" "${NODE}/kubelet/pki" "${NODE}/kubelet/manifests" \
    "${NODE}/kubelet/volume-plugins" "${NODE}/pods-logs" "${NODE}/volumes"
  kubeconfig "${NODE}/kubeconfig" admin
  kubeconfig "${NODE}/kubelet.kubeconfig" kubelet

  containerd config default >"${NODE}/containerd.toml.default"
  python3 - "${NODE}" "${PAUSE_IMAGE}" <<'PY'
import re, sys
node, pause = sys.argv[1], sys.argv[2]
text = open(f"{node}/containerd.toml.default").read()

def setting(text, key, value, section=None):
    """Sets KEY (in SECTION when given) and insists that it was there."""
    if section is None:
        pattern = re.compile(rf"^(\s*){re.escape(key)} = .*$", re.MULTILINE)
    else:
        pattern = re.compile(
            rf"(^\s*\[{re.escape(section)}\]\n(?:(?!\s*\[).*\n)*?)(\s*){re.escape(key)} = .*$",
            re.MULTILINE,
        )
    assert pattern.search(text), (section, key)
    if section is None:
        return pattern.sub(lambda m: f"{m.group(1)}{key} = {value}", text)
    return pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{key} = {value}", text, count=1)

text = setting(text, "root", f'"{node}/containerd/root"')
text = setting(text, "state", f'"{node}/containerd/state"')
text = setting(text, "address", f'"{node}/containerd.sock"', "grpc")
text = setting(text, "address", f'"{node}/containerd.ttrpc.sock"', "ttrpc")
text = setting(text, "sandbox_image", f'"{pause}"')
text = setting(text, "restrict_oom_score_adj", "true")
text = setting(text, "SystemdCgroup", "false")
text = setting(text, "bin_dir", '"/usr/lib/cni"')
text = setting(text, "conf_dir", f'"{node}/cni/net.d"')
text = setting(text, "path", f'"{node}/containerd/opt"', 'plugins."io.containerd.internal.v1.opt"')
open(f"{node}/containerd.toml", "w").write(text)
PY
  cat >"${NODE}/cni/net.d/10-clef-pro.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "clef-pro-node",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "hairpinMode": true,
     "ipMasq": false,
     "ipam": {"type": "host-local", "dataDir": "${NODE}/cni/ipam",
              "ranges": [[{"subnet": "${POD_CIDR}"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  : >"${NODE}/resolv.conf"
  cat >"${NODE}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupsPerQOS: true
cgroupRoot: /${CGROUP}
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://${NODE}/containerd.sock
imageServiceEndpoint: unix://${NODE}/containerd.sock
staticPodPath: ${NODE}/kubelet/manifests
podLogsDir: ${NODE}/pods-logs
volumePluginDir: ${NODE}/kubelet/volume-plugins
clusterDNS: [${DNS_IP}]
clusterDomain: cluster.local
resolvConf: ${NODE}/resolv.conf
address: ${NODE_IP}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${NODE}/pki/ca.crt}
authorization:
  mode: AlwaysAllow
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
}

# ---------------------------------------------------------------- up

cgroup_dirs() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -f "${h}cgroup.procs" ]] || continue
    printf '%s%s\n' "${h}" "${CGROUP}"
  done
}

make_cgroups() {
  local d parent
  while IFS= read -r d; do
    mkdir -p "${d}"
    parent=$(dirname "${d}")
    if [[ -f "${parent}/cpuset.cpus" ]]; then
      cat "${parent}/cpuset.cpus" >"${d}/cpuset.cpus"
      cat "${parent}/cpuset.mems" >"${d}/cpuset.mems"
    fi
  done < <(cgroup_dirs)
}

remove_cgroups() {
  local d
  while IFS= read -r d; do
    [[ -d "${d}" ]] || continue
    find "${d}" -depth -type d -exec rmdir {} + 2>/dev/null || log "could not remove cgroup ${d}"
  done < <(cgroup_dirs)
}

in_node() { nsenter "--net=/run/netns/${NETNS}" "$@"; }

make_network() {
  ip netns add "${NETNS}"
  ip link add "${HOST_IF}" type veth peer name "${NODE_IF}"
  ip link set "${NODE_IF}" netns "${NETNS}"
  ip addr add "${HOST_IP}/30" dev "${HOST_IF}"
  ip link set "${HOST_IF}" up
  # Pods answer the host directly (no masquerading): a route to their subnet
  # via the node, which goes away with the veth like every route to it.
  ip route add "${POD_CIDR}" via "${NODE_IP}" dev "${HOST_IF}"
  # Service addresses from the host, as from any machine on the node's network.
  ip route add "${SERVICE_CIDR}" via "${NODE_IP}" dev "${HOST_IF}"
  in_node ip link set lo up
  in_node ip addr add "${NODE_IP}/30" dev "${NODE_IF}"
  in_node ip link set "${NODE_IF}" up
  # No default route: the node reaches the host side of the veth and nothing
  # beyond it. Forwarding (pods to the node and the host) is the namespace's own.
  in_node sysctl -q -w net.ipv4.ip_forward=1
}

wait_for() { # seconds description command...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  : "${what}"
}

k() { "${ENVTEST_BIN}/kubectl" --kubeconfig "${NODE}/kubeconfig" "$@"; }

start_all() {
  local bin=$1 envtest=$2 pki="${NODE}/pki" issuer="https://kubernetes.default.svc.cluster.local"
  : >"${NODE}/etcd.log"
  spawn "${NODE}/etcd.pid" "${NODE}/etcd.log" "${NETNS}" "${envtest}/etcd" \
    --name=clef-pro-node --data-dir="${NODE}/etcd-data" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=clef-pro-node=http://127.0.0.1:2380 \
    --unsafe-no-fsync=true --log-level=warn
  wait_for 30 etcd in_node bash -c ': </dev/tcp/127.0.0.1/2379' || fail_start etcd

  spawn "${NODE}/kube-apiserver.pid" "${NODE}/kube-apiserver.log" "${NETNS}" "${envtest}/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address="${NODE_IP}" --advertise-address="${NODE_IP}" --secure-port=6443 \
    --tls-cert-file="${pki}/apiserver.crt" --tls-private-key-file="${pki}/apiserver.key" \
    --client-ca-file="${pki}/ca.crt" \
    --kubelet-client-certificate="${pki}/admin.crt" --kubelet-client-key="${pki}/admin.key" \
    --kubelet-preferred-address-types=InternalIP,Hostname \
    --authorization-mode=Node,RBAC \
    --service-account-issuer="${issuer}" --api-audiences="${issuer}" \
    --service-account-key-file="${pki}/sa.pub" --service-account-signing-key-file="${pki}/sa.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" --endpoint-reconciler-type=lease \
    --allow-privileged=true --profiling=false --v=1
  wait_for 120 kube-apiserver k get --raw=/readyz || fail_start kube-apiserver

  spawn "${NODE}/containerd.pid" "${NODE}/containerd.log" "${NETNS}" /usr/bin/containerd \
    --config "${NODE}/containerd.toml"
  wait_for 60 containerd ctr -a "${NODE}/containerd.sock" version || fail_start containerd
  local image
  for image in pause coredns postgres; do
    ctr -a "${NODE}/containerd.sock" -n k8s.io images import \
      "$(images_dir)/${image}.tar" >/dev/null
  done

  spawn "${NODE}/kube-controller-manager.pid" "${NODE}/kube-controller-manager.log" "${NETNS}" \
    "${bin}/kube-controller-manager" --kubeconfig="${NODE}/kubeconfig" \
    --service-account-private-key-file="${pki}/sa.key" --root-ca-file="${pki}/ca.crt" \
    --service-cluster-ip-range="${SERVICE_CIDR}" --controllers='*' \
    --leader-elect=false --secure-port=0 --use-service-account-credentials=false --v=1
  spawn "${NODE}/kube-scheduler.pid" "${NODE}/kube-scheduler.log" "${NETNS}" \
    "${bin}/kube-scheduler" --kubeconfig="${NODE}/kubeconfig" --leader-elect=false \
    --secure-port=0 --v=1
  spawn "${NODE}/kubelet.pid" "${NODE}/kubelet.log" "${NETNS}" "${bin}/kubelet" \
    --config="${NODE}/kubelet.yaml" --kubeconfig="${NODE}/kubelet.kubeconfig" \
    --root-dir="${NODE}/kubelet" --cert-dir="${NODE}/kubelet/pki" \
    --hostname-override="${NODE_NAME}" --node-ip="${NODE_IP}" --v=1
  spawn "${NODE}/kube-proxy.pid" "${NODE}/kube-proxy.log" "${NETNS}" "${bin}/kube-proxy" \
    --kubeconfig="${NODE}/kubeconfig" --hostname-override="${NODE_NAME}" \
    --proxy-mode=iptables --cluster-cidr="${POD_CIDR}" --conntrack-max-per-core=0 \
    --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
    --nodeport-addresses=primary --metrics-bind-address=127.0.0.1:10249 \
    --healthz-bind-address=127.0.0.1:10256 --v=1
  wait_for 120 node k wait --for=condition=Ready "node/${NODE_NAME}" --timeout=2s || fail_start kubelet
}

fail_start() {
  local name
  log "$1 did not start"
  for name in "${SERVICES[@]}"; do
    running_pid "${name}" >/dev/null || log "${name} is not running"
  done
  [[ ! -f "${NODE}/$1.log" ]] || tail -n 40 "${NODE}/$1.log" >&2
  die "the node failed to start ($1); see ${NODE}/*.log, then run $0 down"
}

cluster_addons() {
  local bin=$1
  # CoreDNS, as any cluster has it: Services resolve by name.
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
      - name: coredns
        image: ${COREDNS_IMAGE}
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
        resources: {limits: {memory: 170Mi}, requests: {cpu: 50m, memory: 70Mi}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: ${DNS_IP}
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
---
# Storage for claims without a class (kind's provisioner does this there):
# directories under the node's own directory.
apiVersion: v1
kind: PersistentVolume
metadata: {name: clef-pro-node-pv-0}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: ${NODE}/volumes/pv-0, type: DirectoryOrCreate}
EOF
  : "${bin}"
  k -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null ||
    fail_start coredns
}

cmd_up() {
  need_root up
  local cmd
  for cmd in ip nsenter containerd runc ctr mmdebstrap docker dockerd iptables openssl flock; do
    command -v "${cmd}" >/dev/null ||
      die "${cmd} is missing: apt-get install containerd runc containernetworking-plugins mmdebstrap docker.io iptables openssl util-linux"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] ||
    die "the CNI plugins are missing: apt-get install containernetworking-plugins"
  if [[ -f "${NODE}/node.env" ]] && running_pid kube-apiserver >/dev/null; then
    log "already running; run '$0 down' first to restart"
    return 0
  fi
  [[ ! -e "/run/netns/${NETNS}" ]] || die "network namespace ${NETNS} exists: run $0 down first"
  "${SCRIPT_DIR}/envtest.sh" build
  cmd_build
  local started=${SECONDS} bin envtest
  bin=$(bin_dir)/bin
  envtest=$(envtest_bin)
  ENVTEST_BIN=${envtest}
  rm -rf -- "${NODE}"
  mkdir -p "${NODE}"
  # What `down` puts back: the host's sysctls and which directories existed.
  local s
  for s in "${HOST_SYSCTLS[@]}"; do
    printf '%s=%s\n' "${s}" "$(sysctl -n "${s}")"
  done >"${NODE}/host-sysctls"
  record_host_dirs "${NODE}/host-dirs"
  ls -1 /run/netns 2>/dev/null >"${NODE}/host-netns" || : >"${NODE}/host-netns"
  printf 'NODE_BIN=%s\nENVTEST_BIN=%s\n' "${bin}" "${envtest}" >"${NODE}/node.env"
  gen_pki "${NODE}/pki"
  write_configs "${bin}"
  make_cgroups
  make_network
  start_all "${bin}" "${envtest}"
  cluster_addons "${bin}"
  log "node ${NODE_NAME} Ready in $((SECONDS - started))s; use: eval \"\$($0 env)\""
}

# ---------------------------------------------------------------- install

require_node() {
  need_root "$1"
  if [[ ! -f "${NODE}/node.env" ]] || ! running_pid kube-apiserver >/dev/null; then
    die "the node is not up: run $0 up"
  fi
}

# The user's build (the walkthrough's `docker build -t clef-pro:TAG .`) on the
# local base, loaded into the node as `kind load docker-image` would.
build_project_image() {
  local base image="clef-pro:${TAG}" tmp
  lock_cache
  tmp=$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf -- '${tmp}'; '${SELF}' docker-stop" EXIT
  docker_start
  base=$(docker_base)
  log "building ${image} from the Dockerfile (base ${base})"
  (cd "${REPO_ROOT}" && docker_build -t "${image}" --build-arg "BASE_IMAGE=${base}" \
    --label "org.opencontainers.image.version=${TAG}" .)
  docker_ save -o "${tmp}/clef-pro.tar" "${image}"
  docker_stop
  unlock_cache
  log "loading ${image} into the node"
  ctr -a "${NODE}/containerd.sock" -n k8s.io images import "${tmp}/clef-pro.tar" >/dev/null
  rm -rf -- "${tmp}"
  trap - EXIT
}

cmd_image() {
  require_node image
  build_project_image
}

cmd_install() {
  require_node install
  local started=${SECONDS} envtest
  envtest=$(envtest_bin)
  build_project_image
  # The rest is the kind walkthrough itself.
  KUBECONFIG="${NODE}/kubeconfig" PATH="${envtest}:${PATH}" \
    CLEF_PRO_KUBE_CONTEXT="${CONTEXT}" CLEF_PRO_IMAGE_TAG="${TAG}" \
    CLEF_PRO_POSTGRES_IMAGE="${POSTGRES_IMAGE}" CLEF_PRO_DOWN_COMMAND="hack/cluster.sh down" \
    "${SCRIPT_DIR}/kind.sh" install
  log "Clef Pro installed in $((SECONDS - started))s"
}

# ---------------------------------------------------------------- down

cmd_down() {
  need_root down
  if [[ ! -f "${NODE}/node.env" ]]; then
    log "no node state found"
  else
    ENVTEST_BIN=$(sed -n 's/^ENVTEST_BIN=//p' "${NODE}/node.env")
    local pid name
    # Pods first, through the kubelet, so that their sandboxes and network
    # namespaces are torn down the normal way.
    for name in kube-controller-manager kube-scheduler; do
      pid=$(running_pid "${name}") && stop_pid "${pid}" "$(exe_of "${name}")" "${NODE}" "${name}"
    done
    if running_pid kubelet >/dev/null && running_pid kube-apiserver >/dev/null; then
      k delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
      wait_for 60 "pods gone" no_running_tasks || log "pods still running after 60s; killing them"
    fi
    for name in kube-proxy kubelet; do
      pid=$(running_pid "${name}") && stop_pid "${pid}" "$(exe_of "${name}")" "${NODE}" "${name}"
    done
    kill_tasks
    for name in containerd kube-apiserver etcd; do
      pid=$(running_pid "${name}") && stop_pid "${pid}" "$(exe_of "${name}")" "${NODE}" "${name}"
    done
    kill_shims
    unmount_below "${NODE}"
    local ns
    for ns in /run/netns/cni-*; do
      [[ -e "${ns}" ]] || continue
      grep -qxF "$(basename "${ns}")" "${NODE}/host-netns" 2>/dev/null && continue
      umount -l "${ns}" 2>/dev/null || true
      rm -f -- "${ns}"
    done
  fi
  if [[ -e "/run/netns/${NETNS}" ]]; then
    ip netns delete "${NETNS}" || log "could not delete network namespace ${NETNS}"
  fi
  ip link delete "${HOST_IF}" 2>/dev/null || true
  remove_cgroups
  if [[ -f "${NODE}/host-sysctls" ]]; then
    local line
    while IFS= read -r line; do
      sysctl -q -w "${line}" || log "could not restore ${line}"
    done <"${NODE}/host-sysctls"
  fi
  restore_host_dirs "${NODE}/host-dirs"
  docker_stop
  rm -rf --one-file-system -- "${NODE}"
  log "node stopped; host restored"
}

no_running_tasks() {
  [[ -z "$(ctr -a "${NODE}/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null)" ]]
}

kill_tasks() {
  running_pid containerd >/dev/null || return 0
  local id
  for id in $(ctr -a "${NODE}/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr -a "${NODE}/containerd.sock" -n k8s.io tasks kill -s SIGKILL "${id}" >/dev/null 2>&1 || true
  done
  wait_for 20 "tasks killed" no_running_tasks || true
  for id in $(ctr -a "${NODE}/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr -a "${NODE}/containerd.sock" -n k8s.io tasks delete -f "${id}" >/dev/null 2>&1 || true
  done
}

# containerd's shims outlive containerd; ours name our socket on their command line.
kill_shims() {
  local pid
  for pid in $(pgrep -f -- "-address ${NODE}/containerd.sock" || true); do
    if is_ours "${pid}" /usr/bin/containerd-shim-runc-v2 "${NODE}/containerd.sock"; then
      kill -KILL "${pid}" 2>/dev/null || true
    fi
  done
  # Anything left in the node's cgroups is a container process of ours.
  local d
  while IFS= read -r d; do
    [[ -d "${d}" ]] || continue
    find "${d}" -name cgroup.procs -exec cat {} + 2>/dev/null | while IFS= read -r pid; do
      kill -KILL "${pid}" 2>/dev/null || true
    done
  done < <(cgroup_dirs)
  sleep 0.5
}

# ---------------------------------------------------------------- env, status

cmd_env() {
  [[ -f "${NODE}/node.env" ]] || die "the node is not up: run $0 up"
  printf 'export KUBECONFIG=%q\n' "${NODE}/kubeconfig"
  # shellcheck disable=SC2016 # $PATH is for the eval'ing shell to expand
  printf 'export PATH=%q:"$PATH"\n' "$(sed -n 's/^ENVTEST_BIN=//p' "${NODE}/node.env")"
}

cmd_addresses() {
  printf 'HOST_IP=%s\nNODE_IP=%s\nPOD_CIDR=%s\nSERVICE_CIDR=%s\nNETNS=%s\nNODE=%s\nCONTEXT=%s\nCGROUP=%s\n' \
    "${HOST_IP}" "${NODE_IP}" "${POD_CIDR}" "${SERVICE_CIDR}" "${NETNS}" "${NODE}" "${CONTEXT}" "${CGROUP}"
}

cmd_status() {
  if [[ ! -f "${NODE}/node.env" ]]; then
    echo "node: not up"
    return 3
  fi
  local name pid rc=0
  echo "node dir: ${NODE}"
  for name in "${SERVICES[@]}"; do
    if pid=$(running_pid "${name}"); then
      echo "${name}: running (pid ${pid})"
    else
      echo "${name}: not running"
      rc=3
    fi
  done
  memory
  return "${rc}"
}

# What the node costs: the resident memory of its processes (control plane,
# kubelet, containerd and its shims) and of its pods (their cgroup).
memory() {
  local name pid total=0 rss pods=0
  local pids=()
  for name in "${SERVICES[@]}"; do
    pid=$(running_pid "${name}") && pids+=("${pid}")
  done
  for pid in $(pgrep -f -- "-address ${NODE}/containerd.sock" || true); do
    pids+=("${pid}")
  done
  for pid in "${pids[@]}"; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/${pid}/status" 2>/dev/null || echo 0)
    total=$((total + ${rss:-0}))
  done
  [[ ! -f "/sys/fs/cgroup/memory/${CGROUP}/memory.usage_in_bytes" ]] ||
    pods=$(($(<"/sys/fs/cgroup/memory/${CGROUP}/memory.usage_in_bytes") / 1024))
  printf 'memory: node processes %d MiB RSS, pods %d MiB (cgroup), total %d MiB\n' \
    $((total / 1024)) $((pods / 1024)) $(((total + pods) / 1024))
}

main() {
  local cmd=${1:-}
  [[ $# -eq 0 ]] || shift
  case "${cmd}" in
    build) cmd_build "$@" ;;
    up) cmd_up "$@" ;;
    install) cmd_install "$@" ;;
    image) cmd_image "$@" ;;
    down) cmd_down "$@" ;;
    env) cmd_env "$@" ;;
    status) cmd_status "$@" ;;
    addresses) cmd_addresses "$@" ;;
    docker-stop) docker_stop ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "${SELF}" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "usage: $0 build|up|install|env|status|down|addresses" ;;
  esac
}

main "$@"
