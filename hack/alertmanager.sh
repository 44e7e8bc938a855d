#!/usr/bin/env bash
# alertmanager.sh - a real Prometheus Alertmanager for the notification tests.
#
# Why: Clef Pro's Alertmanager channel must be tested against Alertmanager
# itself (its API v2 validation, its grouping, its view of alerts), not a
# stand-in. Our machines have no container runtime and cannot download
# release binaries, so it is built from its Go module, pinned below, and
# cached outside the repository under the same conventions as envtest.sh.
#
# The module archive carries Alertmanager's Go sources but not its web UI
# (compiled from Elm and TypeScript by upstream's release tooling), which the
# binary embeds; the build puts a one-page placeholder there. The API, which is
# all the tests use, is unaffected.
#
# Usage: hack/alertmanager.sh COMMAND
#   build     build (or reuse) the cached binary
#   bin-dir   print the cached binary directory (builds nothing)
#   version   print the pinned version
#
# Environment:
#   CLEF_PRO_ALERTMANAGER_CACHE  binary cache root
#                                (default ${XDG_CACHE_HOME:-$HOME/.cache}/clef-pro/alertmanager)
#   GO                           go command (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
SELF="${SCRIPT_DIR}/$(basename -- "${BASH_SOURCE[0]}")"

MODULE="github.com/prometheus/alertmanager"
ALERTMANAGER_VERSION="v0.35.0"
# Bump when the way the binary is built changes, to invalidate old caches.
RECIPE_REVISION="1"

CACHE_ROOT="${CLEF_PRO_ALERTMANAGER_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/clef-pro/alertmanager}"

export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0

log() { printf 'alertmanager: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

go_cmd() {
  if [[ -n "${GO:-}" ]]; then
    printf '%s\n' "${GO}"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    die "no Go toolchain found (set GO=/path/to/go); Go >= 1.26 is required"
  fi
}

# Cache key: the version plus everything else that determines the build.
recipe_hash() {
  {
    printf 'recipe=%s module=%s@%s\n' "${RECIPE_REVISION}" "${MODULE}" "${ALERTMANAGER_VERSION}"
    "$(go_cmd)" env GOVERSION GOOS GOARCH
    sed -n '/^cmd_build()/,/^}/p' "${SELF}"
  } | sha256sum | cut -c1-12
}

cache_dir() {
  printf '%s/alertmanager-%s-%s\n' "${CACHE_ROOT}" "${ALERTMANAGER_VERSION}" "$(recipe_hash)"
}

binary_present() {
  [[ -x "$1/bin/alertmanager" && -f "$1/manifest.txt" ]]
}

cmd_build() {
  local final go tmp
  final=$(cache_dir)
  if binary_present "${final}"; then
    log "binary up to date in ${final}/bin"
    return 0
  fi
  go=$(go_cmd)
  mkdir -p "${CACHE_ROOT}"
  # Serialise concurrent builds (two test runs, say) on the cache root.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${CACHE_ROOT}/.build.lock"
    flock 9
    if binary_present "${final}"; then
      exec 9>&-
      log "binary up to date in ${final}/bin"
      return 0
    fi
  fi

  # Leftovers of builds that were killed outright (kill -9, power loss).
  find "${CACHE_ROOT}" -maxdepth 1 -name '.build.*' -type d -mmin +120 \
    -exec chmod -R u+w {} + -exec rm -rf -- {} + 2>/dev/null || true
  tmp=$(mktemp -d "${CACHE_ROOT}/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "chmod -R u+w '${tmp}' 2>/dev/null; rm -rf -- '${tmp}'" EXIT
  trap 'exit 130' INT TERM # so that the EXIT trap cleans up on Ctrl-C too
  mkdir -p "${tmp}/bin"

  # The module archive, verified against the checksum database like any
  # dependency; its own go.mod and go.sum pin every dependency of the build.
  local source build_date
  log "building Alertmanager ${ALERTMANAGER_VERSION} from ${MODULE} (first build takes a few minutes)"
  source=$(cd "${tmp}" && GOFLAGS='' "${go}" mod download -json "${MODULE}@${ALERTMANAGER_VERSION}" |
    awk -F'"' '$2 == "Dir" { print $4 }')
  [[ -d "${source}" ]] || die "could not download ${MODULE}@${ALERTMANAGER_VERSION}"
  cp -R "${source}" "${tmp}/src"
  chmod -R u+w "${tmp}/src"
  # The embedded web UI is not in the module archive (see the header).
  local ui
  for ui in elm mantine; do
    mkdir -p "${tmp}/src/ui/app/dist/${ui}"
    printf '%s\n' '<!doctype html><title>Alertmanager</title>' \
      '<p>Built for tests without its web UI; the API is at <a href="api/v2/status">/api/v2/</a>.' \
      >"${tmp}/src/ui/app/dist/${ui}/index.html"
  done

  # A reproducible build date: the release's publication time on the proxy.
  build_date=$(cd "${tmp}" && GOFLAGS="" "${go}" list -m -f "{{with .Time}}{{.UTC.Format \"20060102-15:04:05\"}}{{end}}" "${MODULE}@${ALERTMANAGER_VERSION}" 2>/dev/null) || build_date=""
  [[ -n "${build_date}" ]] || build_date=$(date -u +%Y%m%d-%H:%M:%S)
  # What upstream's .promu.yml stamps; the module archive has no git metadata.
  local version_pkg="github.com/prometheus/common/version" ldflags="-s -w"
  ldflags+=" -X ${version_pkg}.Version=${ALERTMANAGER_VERSION#v}"
  ldflags+=" -X ${version_pkg}.Revision=module-archive"
  ldflags+=" -X ${version_pkg}.Branch=${ALERTMANAGER_VERSION}"
  ldflags+=" -X ${version_pkg}.BuildUser=clef-pro"
  ldflags+=" -X ${version_pkg}.BuildDate=${build_date}"
  (cd "${tmp}/src" && GOFLAGS="-mod=readonly -buildvcs=false" \
    "${go}" build -trimpath -ldflags "${ldflags}" -o "${tmp}/bin/alertmanager" ./cmd/alertmanager)
  [[ -x "${tmp}/bin/alertmanager" ]] || die "build produced no alertmanager"
  chmod -R u+w "${tmp}/src"
  rm -rf -- "${tmp}/src"

  {
    printf 'alertmanager %s\ngo %s\nbuild_date %s\n' "${ALERTMANAGER_VERSION}" \
      "$("${go}" env GOVERSION)" "${build_date}"
  } >"${tmp}/manifest.txt"
  chmod 755 "${tmp}"
  # Publish atomically: a rename within the cache root, never a partial dir.
  rm -rf -- "${final}"
  mv -T -- "${tmp}" "${final}"
  trap - EXIT INT TERM
  exec 9>&-
  log "binary ready in ${final}/bin"
}

cmd_bin_dir() {
  local dir
  dir=$(cache_dir)
  binary_present "${dir}" || die "binary not built yet: run $0 build"
  printf '%s/bin\n' "${dir}"
}

main() {
  local cmd=${1:-}
  [[ $# -eq 0 ]] || shift
  case "${cmd}" in
    build) cmd_build "$@" ;;
    bin-dir) cmd_bin_dir "$@" ;;
    version) printf '%s\n' "${ALERTMANAGER_VERSION}" ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "${SELF}" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "usage: $0 build|bin-dir|version" ;;
  esac
}

main "$@"
