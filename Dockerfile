# syntax=docker/dockerfile:1.7
#
# One build, four runnable targets of the same layers:
#   docker build --target api      -t chat-system-api .
#   docker build --target consumer -t chat-system-consumer .
#   docker build --target flusher  -t chat-system-flusher .
#   docker build --target migrate  -t chat-system-migrate .
# Every target holds the whole compiled program set, so the Helm chart runs migrations, the
# schema check and the reindex Job with the api image.
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
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts \
 && rm -f node_modules/.bin/node
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY internal ./internal
COPY scripts ./scripts
RUN npm run build

# ---------------------------------------------------------------------------- production dependencies
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts

# ---------------------------------------------------------------------------- runtime base
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    HOME=/tmp
# Files stay owned by root and read-only for the runtime user.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
LABEL org.opencontainers.image.title="chat-system" \
      org.opencontainers.image.description="Multi-tenant chat backend: REST API, RabbitMQ consumer, counters flusher" \
      org.opencontainers.image.licenses="MIT"
# A numeric user (not in /etc/passwd) so Kubernetes can verify runAsNonRoot from the image.
USER 10001:10001

# ---------------------------------------------------------------------------- targets
FROM runtime AS migrate
CMD ["node", "dist/cmd/migrate/main.js"]

FROM runtime AS flusher
EXPOSE 9092
CMD ["node", "dist/cmd/flusher/main.js", "--once"]

FROM runtime AS consumer
EXPOSE 9091
CMD ["node", "dist/cmd/consumer/main.js"]

# Last, so a plain `docker build .` produces the API.
FROM runtime AS api
EXPOSE 8080 9090
CMD ["node", "dist/cmd/api/main.js"]
