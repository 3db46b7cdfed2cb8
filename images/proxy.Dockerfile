# airlock-proxy production image: the static binary (CGO_ENABLED=0) on an empty
# base, run as an unprivileged user, nothing else. `make images` stages the binary
# and the CA bundle into the build context and builds offline:
#
#   docker build -f images/proxy.Dockerfile -t airlock.local/proxy:dev build/images/proxy
#
# The e2e suite, the chaos scenarios, `make demo` and deploy/docker-compose.yml
# run this image. Listeners are set by flags (--bootstrap-server-mapping,
# --http-listen-address), so nothing is EXPOSEd: testcontainers would publish
# every exposed port, including ones that must stay on an internal network.
# Certificates and the users file are mounted or copied in at run time (see
# deploy/). SIGTERM drains (--shutdown-timeout); a second signal forces.
FROM scratch
LABEL org.opencontainers.image.title="airlock-proxy" \
      org.opencontainers.image.description="Kafka protocol proxy that rewrites every broker address" \
      org.opencontainers.image.source="https://github.com/airlock-kafka/airlock" \
      airlock.image="airlock-proxy"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY airlock-proxy /usr/local/bin/airlock-proxy
USER 65532:65532
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/airlock-proxy"]
