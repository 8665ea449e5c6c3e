# syntax=docker/dockerfile:1
#
# tipline as a hardened container image. Build and run it as docs/deploy.md's
# "2b. With Docker" section shows:
#
#   docker build -t tipline .
#   docker run -d --name tipline --read-only --cap-drop ALL \
#     --security-opt no-new-privileges --tmpfs /tmp:size=64m,mode=1777 \
#     -v tipline-data:/data -p 127.0.0.1:8080:8080 tipline
#
# - Two stages: compilers and dev dependencies stay in the build stage.
# - The runtime runs as an unprivileged user (uid 10001), owns nothing but
#   /data, and needs no writable root filesystem (--read-only); SQLite's
#   temporary files go to /tmp, a tmpfs.
# - No secret is baked in: the newsroom signing key stays offline, and the data
#   directory (a volume) is made with `tipline admin init` after the build.
#
# The base image is pinned by tag. Pinning by digest is stricter (a tag can be
# moved; a digest can't): look it up with
#   docker buildx imagetools inspect node:20.20.2-bookworm-slim
# and build with
#   --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest>
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 is a native module. It is compiled here from its source, not
# fetched as a prebuilt binary, against the headers that come with the image's
# Node.js (so node-gyp downloads nothing).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local
WORKDIR /app
# Dependencies first, so this layer is reused while only the code changes.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json build.mjs ./
COPY bin/ ./bin/
COPY cli/ ./cli/
COPY i18n/ ./i18n/
COPY client/ ./client/
COPY crypto/ ./crypto/
COPY migrations/ ./migrations/
COPY scripts/ ./scripts/
COPY server/ ./server/
# Build the server bundle and the browser code, then drop dev dependencies.
RUN npm run build \
 && test -f dist/tipline.js && test -d dist/public \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    TIPLINE_DATA=/data \
    PORT=8080 \
    HOST=0.0.0.0
# HOST=0.0.0.0 is inside the container only: Docker forwards the published port
# to the container's own interface. Publish it on the host's loopback only
# (-p 127.0.0.1:8080:8080), where Tor reaches it.
RUN groupadd --system --gid 10001 tipline \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin tipline \
 && mkdir -m 0700 /data \
 && chown 10001:10001 /data
WORKDIR /app
# The program's files belong to root: the server can read but not change them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/deploy/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/bin/tipline.js"]
CMD ["serve"]
