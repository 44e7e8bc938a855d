# PostgreSQL from Debian's package, for hack/kind/postgres.yaml on the test
# node (no registry is reachable there, so the official image cannot be
# pulled). It honours the same environment as the official image's entrypoint:
# POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB and PGDATA.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# The package must not create a cluster of its own: the entrypoint does, in PGDATA.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/*
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]
