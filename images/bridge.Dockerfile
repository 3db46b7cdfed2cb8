# airlock-bridge production image: the static binary (CGO_ENABLED=0) on an empty
# base, run as an unprivileged user, nothing else. `make images` stages the binary
# and the CA bundle into the build context and builds offline:
#
#   docker build -f images/bridge.Dockerfile -t airlock.local/bridge:dev build/images/bridge
#
# The e2e suite, the chaos scenarios, `make demo` and deploy/docker-compose.yml
# run this image. The bridge keeps no local state: its offsets live in
# transactions on the target cluster, so any number of replicas can be replaced
# at will. No EXPOSE (see proxy.Dockerfile); /metrics, /healthz and /readyz are
# on --http-listen-address. SIGTERM commits or aborts open transactions within
# --shutdown-timeout.
FROM scratch
LABEL org.opencontainers.image.title="airlock-bridge" \
      org.opencontainers.image.description="Exactly-once Kafka topic bridge between isolated networks" \
      org.opencontainers.image.source="https://github.com/airlock-kafka/airlock" \
      airlock.image="airlock-bridge"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY airlock-bridge /usr/local/bin/airlock-bridge
USER 65532:65532
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/airlock-bridge"]
