# syntax=docker/dockerfile:1
# One image for the server and the write-behind worker (docs/operations.md, "Deploy"):
#   docker build -t dispatch-engine .
#   docker run dispatch-engine                                          # the server (npm start)
#   docker run dispatch-engine node --import tsx scripts/worker.ts      # the worker (npm run worker)
#   docker run dispatch-engine node --import tsx scripts/migrate.ts     # migrations (npm run migrate)
# node runs as PID 1's only child of note (no npm wrapper), so SIGTERM reaches the process that
# shuts down gracefully (SHUTDOWN_GRACE_MS).
#
# Runtime: Node.js 24 LTS on Debian 13 (glibc 2.41), where the uWS build with Node 24 binaries
# loads (scripts/uws-runtime.ts; docs/operations.md, "Runtime").
ARG NODE_IMAGE=node:24-trixie-slim

# Stage 1: production dependencies only, uWS pointed at a build that loads on this Node, and
# every other platform's uWS binaries deleted (about 220 MB).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY scripts/uws-runtime.ts scripts/patch-postgres-js.ts ./scripts/
RUN node --import tsx scripts/uws-runtime.ts --prune && node --import tsx scripts/patch-postgres-js.ts

# Stage 2: the runtime. Sources are owned by root and read-only to the user that runs them.
# jemalloc is the C allocator, as under npm start and the benchmarks (docs/operations.md).
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2
ENV NODE_ENV=production \
    SERVER_HOST=0.0.0.0 \
    SERVER_PORT=8080 \
    DATA_DIR=/data \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY protocol ./protocol
COPY engine ./engine
COPY adapters ./adapters
COPY scripts ./scripts
COPY sql ./sql
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["node", "--import", "tsx", "scripts/healthcheck.ts"]
CMD ["node", "--import", "tsx", "scripts/server.ts"]
