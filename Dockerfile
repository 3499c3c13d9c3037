# syntax=docker/dockerfile:1
# taskgate: multi-stage build on the current Node LTS; the runtime image holds only
# production dependencies and the compiled output, runs as the unprivileged `node` user,
# and runs node itself as PID 1 so SIGTERM reaches the graceful shutdown.

FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY schemas ./schemas
COPY scripts/bundle.ts ./scripts/bundle.ts
RUN npm run build

FROM node:26-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:26-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
USER node
EXPOSE 8080
# No curl in the slim image: node's own fetch checks liveness.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly (not npm) so SIGTERM reaches the process and close-with-grace drains it.
CMD ["node", "dist/taskgate.mjs"]
