# syntax=docker/dockerfile:1
# taskgate: a multi-stage build on the current Node LTS. The runtime image holds only the
# production bundle and the few packages it loads at run time (dist/runtime/node_modules:
# the API docs UI serves files from its package folder), runs as the unprivileged `node`
# user, and runs node itself as PID 1 so SIGTERM reaches the graceful shutdown.
#
# Base image: pin it by digest for reproducible builds, e.g.
#   docker buildx imagetools inspect node:26-slim     # prints the current digest
#   docker build --build-arg NODE_IMAGE=node:26-slim@sha256:<digest> .
# (the default tag is kept here, not a digest copied from elsewhere: a digest must come
# from the registry you build against). `npm run smoke` starts the bundle from exactly the
# files the runtime stage copies, so this file and the build output cannot drift apart.
ARG NODE_IMAGE=node:26-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY schemas ./schemas
COPY scripts/bundle.ts scripts/cli-bundle.ts scripts/runtime-deps.ts ./scripts/
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
# The entry (it turns on Node's compile cache, kept in the container's temp directory) and the server bundle.
COPY --from=build --chown=node:node /app/dist/taskgate.mjs ./taskgate.mjs
COPY --from=build --chown=node:node /app/dist/taskgate-server.mjs ./taskgate-server.mjs
# The OpenTelemetry SDK, a bundle of its own: loaded only when OTEL_* turn tracing on.
COPY --from=build --chown=node:node /app/dist/tracing-sdk.mjs ./tracing-sdk.mjs
# The S3 archive's store and the AWS SDK, a bundle of its own: loaded only when TASKGATE_ARCHIVE is s3://.
COPY --from=build --chown=node:node /app/dist/archive-s3.mjs ./archive-s3.mjs
COPY --from=build --chown=node:node /app/dist/runtime/node_modules ./node_modules
# Where a file archive lives (TASKGATE_ARCHIVE=file:///var/lib/taskgate/archive): owned by node,
# so a named volume mounted there starts writable for the unprivileged user.
RUN mkdir -p /var/lib/taskgate/archive && chown node:node /var/lib/taskgate/archive
USER node
EXPOSE 8080
# No curl in the slim image: node's own fetch checks liveness.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly (not npm) so SIGTERM reaches the process and close-with-grace drains it.
CMD ["node", "taskgate.mjs"]
