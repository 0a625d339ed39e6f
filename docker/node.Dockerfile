# syntax=docker/dockerfile:1.7
# One image for the coordinator, the CPU worker and the one-shot migrate job; docker-compose.yml
# picks the process with `command`. Build context: the repository root
# (docker build -f docker/node.Dockerfile .). docker/node.Dockerfile.dockerignore keeps
# node_modules, outputs and local data out of the context.
FROM node:20-bookworm-slim

# The lockfile and `allowScripts` in package.json are written for npm 11: it runs only the
# dependency install scripts listed there (npm 10 would run every one, including downloads
# of CUDA pieces by onnxruntime-node).
RUN npm install -g npm@11.19.1 && npm cache clean --force

WORKDIR /app
ENV NODE_ENV=production \
    # CPU image: onnxruntime-node's CPU build is enough; never fetch its CUDA add-ons.
    ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
    CMBN_ARTIFACTS=file:///artifacts

# libopenblas-dev and the node-gyp toolchain for the dense kernel's OpenBLAS addon (build:blas below).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libopenblas-dev python3 make g++ \
    && rm -rf /var/lib/apt/lists/*

COPY . .
# Dev dependencies stay: services run TypeScript through tsx, and migrate uses the prisma CLI.
# npm ci runs the root postinstall (`prisma generate`); running it again is cheap and makes the
# step explicit. Both work offline (Prisma 6.19 with engine "js", see prisma.config.ts).
RUN npm ci --include=dev && npx prisma generate && npm cache clean --force
# The OpenBLAS dense backend (packages/kernels/native/build/Release/cmbn_blas.node); without it the
# kernels fall back to onnxruntime-node, so a failed build fails the image instead of slowing it.
RUN npm run build:blas
# The web console the coordinator serves at / (apps/console/dist; the dockerignore keeps any local
# dist out of the context, so the image builds its own from the sources it holds). Without it
# `/` answers 404 "the console is not built".
RUN npm run build:console

RUN mkdir -p /artifacts && chown node:node /artifacts
USER node
VOLUME ["/artifacts"]
EXPOSE 8080
CMD ["npx", "tsx", "apps/cli/src/main.ts", "--help"]
