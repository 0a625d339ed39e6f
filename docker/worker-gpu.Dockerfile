# syntax=docker/dockerfile:1.7
# GPU worker: the CPU worker plus @tensorflow/tfjs-node-gpu for the distillation (student) jobs.
#
# tfjs-node-gpu 4.x bundles libtensorflow 2.9.1, built against CUDA 11.2 and cuDNN 8.1, so the base
# must be a CUDA 11.2 / cuDNN 8 runtime (with CUDA 12 alone it fails on libcudart.so.11.0).
# Host: NVIDIA driver >= 460.32 (CUDA 11.2) and the NVIDIA Container Toolkit.
# On Hopper (sm_90) this old build JIT-compiles from PTX at first start, which can take many minutes.
# NOT RUN IN CI: nothing here has been built or run on a GPU by the project's CI (see docs/DEPLOY.md).
FROM node:20-bookworm-slim AS node

FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

# Node 20 from the official image (its binaries need glibc >= 2.28; Ubuntu 20.04 has 2.31).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g npm@11.19.1 && npm cache clean --force \
 && groupadd -g 1000 node && useradd -u 1000 -g node -m node

WORKDIR /app
ENV NODE_ENV=production \
    CMBN_DENSE_BACKEND=gpu \
    CMBN_ARTIFACTS=file:///artifacts

COPY . .
RUN npm ci --include=dev && npx prisma generate

# tfjs-node-gpu's install script downloads libtensorflow (GPU) from Google storage, so it must be
# allowed to run. npm 11 refuses `--allow-scripts` on a project-scoped install, so approve it in
# this image's copy of package.json (allowScripts) and install it without saving to the lockfile.
RUN node -e "const f='package.json',p=JSON.parse(require('fs').readFileSync(f,'utf8'));p.allowScripts={...p.allowScripts,'@tensorflow/tfjs-node-gpu':true};require('fs').writeFileSync(f,JSON.stringify(p,null,2)+'\n')" \
 && npm install --no-save @tensorflow/tfjs-node-gpu@4.22.0 \
 && ls node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v*/tfjs_binding.node \
 && npm cache clean --force
# The check above only proves that the binding and libtensorflow were downloaded: loading them needs
# the host driver's libcuda.so.1, which exists only in a container started with GPU access.

RUN mkdir -p /artifacts && chown node:node /artifacts
USER node
VOLUME ["/artifacts"]
CMD ["npx", "tsx", "apps/cli/src/main.ts", "worker"]
