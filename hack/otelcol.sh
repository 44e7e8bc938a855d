#!/usr/bin/env bash
# otelcol.sh - a real OpenTelemetry Collector for the OTLP tests.
#
# Why: Clef Pro's OTLP receiver must work behind a Collector's otlphttp
# exporter, not only behind the Clef CLI, and that is proven against the
# Collector itself rather than a stand-in. Our machines have no container
# runtime and cannot download release binaries, so a minimal distribution (an
# OTLP receiver and the otlphttp exporter, nothing else) is built from its Go
# modules: hack/otelcol/ holds its main package and the go.mod/go.sum that pin
# every dependency. The binary is cached outside the repository under the same
# conventions as envtest.sh and alertmanager.sh, keyed by a hash of its inputs.
#
# Usage: hack/otelcol.sh COMMAND
#   build     build (or reuse) the cached binary
#   bin-dir   print the cached binary directory (builds nothing)
#   version   print the pinned Collector version
#
# Environment:
#   CLEF_PRO_OTELCOL_CACHE  binary cache root
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/clef-pro/otelcol)
#   GO                      go command (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
SELF="${SCRIPT_DIR}/$(basename -- "${BASH_SOURCE[0]}")"
SOURCE_DIR="${SCRIPT_DIR}/otelcol"

# The release of go.opentelemetry.io/collector pinned in hack/otelcol/go.mod
# (its stable modules are v1.71.0 of the same release).
OTELCOL_VERSION="v0.165.0"
# Bump when the way the binary is built changes, to invalidate old caches.
RECIPE_REVISION="1"

CACHE_ROOT="${CLEF_PRO_OTELCOL_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/clef-pro/otelcol}"

export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0

log() { printf 'otelcol: %s\n' "$*" >&2; }
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

# Cache key: the sources and pins plus everything else that determines the build.
recipe_hash() {
  {
    printf 'recipe=%s version=%s\n' "${RECIPE_REVISION}" "${OTELCOL_VERSION}"
    "$(go_cmd)" env GOVERSION GOOS GOARCH
    sed -n '/^cmd_build()/,/^}/p' "${SELF}"
    (cd "${SOURCE_DIR}" && sha256sum main.go go.mod go.sum)
  } | sha256sum | cut -c1-12
}

cache_dir() {
  printf '%s/otelcol-%s-%s\n' "${CACHE_ROOT}" "${OTELCOL_VERSION}" "$(recipe_hash)"
}

binary_present() {
  [[ -x "$1/bin/otelcol" && -f "$1/manifest.txt" ]]
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
  mkdir -p "${tmp}/bin" "${tmp}/src"

  # Modules are downloaded and verified against go.sum and the checksum
  # database like any dependency; -mod=readonly refuses any drift from the pins.
  log "building OpenTelemetry Collector ${OTELCOL_VERSION} (first build takes a few minutes)"
  cp -- "${SOURCE_DIR}/main.go" "${SOURCE_DIR}/go.mod" "${SOURCE_DIR}/go.sum" "${tmp}/src/"
  (cd "${tmp}/src" && GOFLAGS="-mod=readonly -buildvcs=false" \
    "${go}" build -trimpath -ldflags "-s -w" -o "${tmp}/bin/otelcol" .)
  [[ -x "${tmp}/bin/otelcol" ]] || die "build produced no otelcol"
  rm -rf -- "${tmp}/src"

  {
    printf 'otelcol %s\ngo %s\ncomponents otlpreceiver otlphttpexporter\n' \
      "${OTELCOL_VERSION}" "$("${go}" env GOVERSION)"
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
    version) printf '%s\n' "${OTELCOL_VERSION}" ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "${SELF}" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "usage: $0 build|bin-dir|version" ;;
  esac
}

main "$@"
