# The pod sandbox image of the test node: hack/cluster/cmd/pause, static.
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
