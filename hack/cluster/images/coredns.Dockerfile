# CoreDNS for the test node, built from its Go module by hack/cluster.sh.
FROM scratch
COPY coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
