#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (Debian
# packages, the Python environment, the Kubernetes control plane binaries),
# runs the linters, the type checker and the layering contracts, then pytest.
# Extra arguments go to pytest (e.g. `hack/test.sh -m "not k8s"`).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*" >&2; }

# --- Debian packages --------------------------------------------------------
# postgresql: the real database the tests start with pg_ctl.
# openssl: certificates for the test control plane.
# chromium, fonts-dejavu-core: the browser the dashboard tests drive (Playwright
# is only the driver; it never downloads a browser of its own).
# The shellcheck package: the linter of hack/kind.sh (tests/chart).
missing=()
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
command -v openssl >/dev/null || missing+=(openssl)
command -v chromium >/dev/null || missing+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
command -v shellcheck >/dev/null || missing+=(shellcheck)
# The one-node cluster of the `cluster` tests (hack/cluster.sh), which need root:
# its container runtime and network plugins, and what builds its images.
if [ "$(id -u)" = 0 ]; then
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v iptables >/dev/null || missing+=(iptables)
fi
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Python environment -----------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
log "installing clef-pro and its development dependencies"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

# --- Go builds, cached outside the repo: the Kubernetes control plane, the
# Alertmanager of the notification tests, the OpenTelemetry Collector of the
# OTLP tests and the one-node cluster's parts (node components, CoreDNS, and as
# root its images). They mostly wait on downloads on a cold machine, so they
# run side by side.
log "building the test control plane, Alertmanager, the Collector and the test node (cached after the first build)"
hack/alertmanager.sh build &
alertmanager_build=$!
hack/otelcol.sh build &
otelcol_build=$!
hack/cluster.sh build &
cluster_build=$!
hack/envtest.sh build
wait "${alertmanager_build}"
wait "${otelcol_build}"
wait "${cluster_build}"

# --- Static checks ----------------------------------------------------------
log "ruff, mypy, import-linter"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports

# --- Tests --------------------------------------------------------------------
log "pytest"
exec .venv/bin/python -m pytest "$@"
