#!/usr/bin/env bash
# kind.sh - Clef Pro on a local kind cluster: from nothing to a first report.
#
# For people with Docker. It creates a kind cluster, builds the image and
# loads it into the cluster, installs a development PostgreSQL
# (hack/kind/postgres.yaml), installs the chart with the operator watching
# namespace "payments", applies docs/examples/ there, waits for the example
# Integration to be Ready, and prints how to submit a first report. Running
# it again rebuilds the image and upgrades the release in place.
#
# Needs on PATH: docker, kind (0.20 or newer), kubectl, helm (3.x).
#
# Usage: hack/kind.sh [up|install|down]
#   up       (the default) everything above
#   install  only the steps after the image is loaded (Postgres, the chart,
#            docs/examples/), on whatever cluster the context points at;
#            hack/cluster.sh install runs this on the tests' own node
#   down     delete the kind cluster
#
# Environment:
#   CLEF_PRO_KIND_CLUSTER   kind cluster name (default clef-pro)
#   CLEF_PRO_IMAGE_TAG      tag of the image clef-pro:TAG it builds (default dev)
#   CLEF_PRO_KUBE_CONTEXT   kubectl context (default kind-CLUSTER)
#   CLEF_PRO_POSTGRES_IMAGE image of the development PostgreSQL
#                           (default: the one hack/kind/postgres.yaml names)
#   CLEF_PRO_DOWN_COMMAND   what the closing hint says removes everything
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLEF_PRO_KIND_CLUSTER:-clef-pro}
TAG=${CLEF_PRO_IMAGE_TAG:-dev}
IMAGE="clef-pro:${TAG}"
CONTEXT=${CLEF_PRO_KUBE_CONTEXT:-kind-${CLUSTER}}
POSTGRES_IMAGE=${CLEF_PRO_POSTGRES_IMAGE:-}
DOWN=${CLEF_PRO_DOWN_COMMAND:-hack/kind.sh down}
NAMESPACE=clef-pro      # Clef Pro and its development database
TEAM_NAMESPACE=payments # where the example resources go
RELEASE=clef-pro

log() { printf '\n==> %s\n' "$*" >&2; }
k() { kubectl --context "${CONTEXT}" "$@"; }

need() {
  local tool
  for tool in "$@"; do
    command -v "${tool}" >/dev/null || {
      printf 'kind.sh: %s is required on PATH\n' "${tool}" >&2
      exit 1
    }
  done
}

up() {
  need docker kind kubectl helm

  if ! kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
    log "creating kind cluster ${CLUSTER}"
    kind create cluster --name "${CLUSTER}" --wait 180s
  fi

  log "building ${IMAGE}"
  docker build -t "${IMAGE}" .
  log "loading ${IMAGE} into the cluster"
  kind load docker-image "${IMAGE}" --name "${CLUSTER}"

  install
}

install() {
  need kubectl helm

  local ns
  for ns in "${NAMESPACE}" "${TEAM_NAMESPACE}"; do
    k create namespace "${ns}" --dry-run=client -o yaml | k apply -f - >/dev/null
  done

  log "installing a development PostgreSQL in namespace ${NAMESPACE}"
  if ! k -n "${NAMESPACE}" get secret clef-pro-postgres >/dev/null 2>&1; then
    # Created once: the database keeps the password it was initialised with.
    local password
    password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    k -n "${NAMESPACE}" create secret generic clef-pro-postgres \
      --from-literal=password="${password}"
    k -n "${NAMESPACE}" create secret generic clef-pro-database \
      --from-literal=url="postgresql+psycopg://clefpro:${password}@postgres.${NAMESPACE}.svc:5432/clefpro"
  fi
  if [[ -n "${POSTGRES_IMAGE}" ]]; then
    sed "s|^\( *image:\) postgres:.*|\1 ${POSTGRES_IMAGE}|" hack/kind/postgres.yaml |
      k -n "${NAMESPACE}" apply -f -
  else
    k -n "${NAMESPACE}" apply -f hack/kind/postgres.yaml
  fi
  k -n "${NAMESPACE}" rollout status deployment/postgres --timeout=300s

  log "installing the chart (the migration job runs first)"
  helm --kube-context "${CONTEXT}" upgrade --install "${RELEASE}" charts/clef-pro \
    --namespace "${NAMESPACE}" \
    --set image.repository=clef-pro \
    --set image.tag="${TAG}" \
    --set image.pullPolicy=Never \
    --set database.existingSecret=clef-pro-database \
    --set "operator.watchNamespaces={${TEAM_NAMESPACE}}" \
    --set api.replicaCount=1 \
    --wait --timeout 10m

  log "applying docs/examples/ in namespace ${TEAM_NAMESPACE}"
  k -n "${TEAM_NAMESPACE}" apply -f docs/examples/
  k -n "${TEAM_NAMESPACE}" wait --for=condition=Ready integration/payments-api --timeout=300s
  k -n "${TEAM_NAMESPACE}" get integrations

  cat <<EOT

Clef Pro is running in the cluster of context "${CONTEXT}". Next:

  # 1. Reach the service (leave it running):
  kubectl --context ${CONTEXT} -n ${NAMESPACE} port-forward svc/${RELEASE} 8000:8000 &

  # 2. The example Integration's CI API key, as the operator stored it:
  KEY=\$(kubectl --context ${CONTEXT} -n ${TEAM_NAMESPACE} get secret payments-api-clef-pro -o jsonpath='{.data.ci}' | base64 -d)

  # 3. Submit a first report, as the Clef CLI does from CI:
  curl -sS -X POST http://127.0.0.1:8000/api/v1/reports \\
    -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    --data @api/clef_pro_api/demo/example-report.json

  # 4. Read the matrix and the alerts it opened, with the admin token:
  TOKEN=\$(kubectl --context ${CONTEXT} -n ${NAMESPACE} get secret ${RELEASE}-admin-token -o jsonpath='{.data.token}' | base64 -d)
  curl -sS -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8000/api/v1/integrations/${TEAM_NAMESPACE}.payments-api/matrix
  curl -sS -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8000/api/v1/integrations/${TEAM_NAMESPACE}.payments-api/alerts

  # The dashboard: http://127.0.0.1:8000/ (API documentation at /docs)
  # Remove everything: ${DOWN}
EOT
}

down() {
  need kind
  kind delete cluster --name "${CLUSTER}"
}

case "${1:-up}" in
  up) up ;;
  install) install ;;
  down) down ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
