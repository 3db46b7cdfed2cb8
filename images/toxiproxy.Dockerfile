# Toxiproxy server (github.com/Shopify/toxiproxy/v2/cmd/server v2.12.0, built static
# by `make images` from the module cache) on an empty base, non-root. Its API listens
# on 8474 on every interface; proxies listen on whatever ports the tests create.
# No EXPOSE, for the same reason as images/Dockerfile.
FROM scratch
LABEL org.opencontainers.image.title="toxiproxy" \
      org.opencontainers.image.version="2.12.0" \
      airlock.image="toxiproxy"
COPY toxiproxy-server /usr/local/bin/toxiproxy-server
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/toxiproxy-server"]
CMD ["-host=0.0.0.0", "-port=8474"]
