#
# One build, four runnable targets:
#   docker build --target api      -t chat-system-api .
#   docker build --target consumer -t chat-system-consumer .
#   docker build --target flusher  -t chat-system-flusher .
#   docker build --target migrate  -t chat-system-migrate .
# Every target holds the whole compiled program set (the Helm chart runs migrations, the schema
# check and the reindex Job with the api image, and a schema check in every pod), but only the
# dependencies it runs: @kubernetes/client-node (the flusher's Lease lock) is in the flusher
# image alone.
#
# Needs BuildKit (the default builder since Docker 23; DOCKER_BUILDKIT=1 on older engines) for
# the cache and secret mounts, and nothing else: there is no `# syntax=` line, so the
# Dockerfile frontend built into the engine is used and no frontend image is pulled. The only
# image pulled is NODE_IMAGE (give a mirror's name, or pre-load it, where no registry is
# reachable).
#
# Behind a TLS-intercepting proxy, give the proxy's CA as a build secret (never a layer):
#   docker build --secret id=ca,src=/path/to/proxy-ca.pem --target api .
#
# Runtime contract: any non-root numeric user, read-only root filesystem (only /tmp, an emptyDir
# in Kubernetes, is writable), SIGTERM handled by the programs themselves (node is PID 1 and
# spawns no children, so no init process is needed), no HEALTHCHECK (Kubernetes probes
# /livez and /readyz).

# Pin by digest in production (e.g. node:24-bookworm-slim@sha256:...) and let a bot bump it.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# No install scripts: the `node` devDependency would download a second Node binary, and the
# TypeScript build needs no native module. The image's own Node 24 runs everything.
# The optional `ca` secret is trusted by npm for this command only.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --ignore-scripts \
 && rm -f node_modules/.bin/node
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY internal ./internal
RUN npm run build

# ---------------------------------------------------------------------------- production dependencies
# All of them (the flusher's), without what nothing runs: type declarations, source maps, docs.
# This stage's package.json loses its devDependencies (not installed, so not in the SBOM); the
# images get the original one.
FROM ${NODE_IMAGE} AS deps-all
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --omit=dev --ignore-scripts \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
      -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \) -delete \
 && npm pkg delete devDependencies \
 && npm sbom --omit=dev --sbom-format cyclonedx --sbom-type application > sbom.cdx.json

# The same without the Kubernetes client (api, consumer, migrate): npm removes it and whatever
# only it needed, from the lockfile alone (no network).
FROM deps-all AS deps-core
RUN npm pkg delete 'dependencies.@kubernetes/client-node' \
 && npm prune --omit=dev --ignore-scripts --offline \
 && npm sbom --omit=dev --sbom-format cyclonedx --sbom-type application > sbom.cdx.json

# ---------------------------------------------------------------------------- runtime base
# The Node image without what only installs or builds (npm, corepack, yarn, C headers) or what
# nobody reads in a container (docs, man pages, locales, apt lists), flattened into one layer
# so the removed files are really gone. Shell and coreutils stay: the chart's schema wait runs
# /bin/sh and sleep.
FROM ${NODE_IMAGE} AS node-runtime
RUN rm -rf /usr/local/include /usr/local/lib/node_modules /usr/local/share/doc \
      /usr/local/share/man /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* /usr/local/CHANGELOG.md \
      /usr/local/README.md /usr/local/LICENSE \
      /usr/share/doc /usr/share/man /usr/share/info /usr/share/locale /usr/share/lintian \
      /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/* \
 && mkdir -p /app

FROM scratch AS runtime
COPY --from=node-runtime / /
WORKDIR /app
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    HOME=/tmp
COPY --from=build /app/dist ./dist
COPY package.json ./
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.description="Multi-tenant chat backend: REST API, RabbitMQ consumer, counters flusher" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="chat-system" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# A numeric user (not in /etc/passwd) so Kubernetes can verify runAsNonRoot from the image.
# Files stay owned by root and read-only for the runtime user.
USER 10001:10001

# ---------------------------------------------------------------------------- targets
# Each target adds its dependencies and their CycloneDX SBOM (/app/sbom.cdx.json) last.
FROM runtime AS migrate
COPY --from=deps-core /app/node_modules ./node_modules
COPY --from=deps-core /app/sbom.cdx.json ./
LABEL org.opencontainers.image.title="chat-system-migrate"
CMD ["node", "dist/cmd/migrate/main.js"]

FROM runtime AS flusher
COPY --from=deps-all /app/node_modules ./node_modules
COPY --from=deps-all /app/sbom.cdx.json ./
LABEL org.opencontainers.image.title="chat-system-flusher"
EXPOSE 9092
CMD ["node", "dist/cmd/flusher/main.js", "--once"]

FROM runtime AS consumer
COPY --from=deps-core /app/node_modules ./node_modules
COPY --from=deps-core /app/sbom.cdx.json ./
LABEL org.opencontainers.image.title="chat-system-consumer"
EXPOSE 9091
CMD ["node", "dist/cmd/consumer/main.js"]

# Last, so a plain `docker build .` produces the API.
FROM runtime AS api
COPY --from=deps-core /app/node_modules ./node_modules
COPY --from=deps-core /app/sbom.cdx.json ./
LABEL org.opencontainers.image.title="chat-system-api"
EXPOSE 8080 9090
# Heap bounds: see API_NODE_FLAGS in test/e2e/support/system.ts (the chart runs the same).
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=384", "dist/cmd/api/main.js"]
