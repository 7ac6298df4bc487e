# syntax=docker/dockerfile:1
# Churnlens API image. Build: docker build -t churnlens .   Run: docker run -e DATABASE_URL=... -p 3000:3000 churnlens

# 1. Build: `npm ci` installs every package and compiles the TypeScript sources to dist/ (its prepare
#    script, npm run build); the development packages are then pruned. The native TensorFlow backend
#    (@tensorflow/tfjs-node) is an optional dependency whose install step downloads libtensorflow; with
#    network access here it installs, and without it Churnlens falls back to WebAssembly or pure JS.
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY core ./core
COPY features ./features
COPY training ./training
COPY scoring ./scoring
COPY jobs ./jobs
COPY serving ./serving
COPY cli ./cli
RUN npm ci --no-audit --no-fund \
 && test -f dist/.build-stamp \
 && npm prune --omit=dev --no-audit --no-fund

# 2. Runtime: slim base, non-root user, the compiled JavaScript only (bin/churn.js runs dist/).
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 CHURN_HOME=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "bin/churn.js", "serve"]
