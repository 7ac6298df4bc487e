# syntax=docker/dockerfile:1
# Churnlens API image. Build: docker build -t churnlens .   Run: docker run -e DATABASE_URL=... -p 3000:3000 churnlens

# 1. Dependencies: production packages only. The native TensorFlow backend (@tensorflow/tfjs-node) is an
#    optional dependency whose install step downloads libtensorflow; with network access here it installs,
#    and without it Churnlens falls back to the WebAssembly or pure-JS backend at run time.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 2. Runtime: slim base, non-root user, sources run through tsx (no build step).
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 CHURN_HOME=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY cli ./cli
COPY core ./core
COPY features ./features
COPY training ./training
COPY serving ./serving
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "bin/churn.js", "serve"]
