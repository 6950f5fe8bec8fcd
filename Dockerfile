# monochat in one container. Both stages use the project's own scripts, the same ones the
# README's commands and CI run, so the image builds exactly what CI tested.
#   docker build -t monochat .
#   docker run -p 8080:8080 -v monochat-data:/data monochat

FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DMONOCHAT_BUILD_TESTS=OFF -DMONOCHAT_BUILD_TOOLS=OFF \
    && cmake --build /build --target monochat -j "$(nproc)" \
    && strip /build/src/app/monochat

FROM debian:12-slim
COPY scripts/deps.sh /tmp/deps.sh
RUN bash /tmp/deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/deps.sh \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin monochat \
    && mkdir -p /data /etc/monochat && chown monochat:monochat /data
COPY --from=build /build/src/app/monochat /usr/local/bin/monochat
COPY config/docker.json /etc/monochat/monochat.json
USER monochat
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/monochat", "--config", "/etc/monochat/monochat.json"]
