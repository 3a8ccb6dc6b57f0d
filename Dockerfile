# mcpsync: the operator image. Multi-stage: build with the Rust toolchain, run on
# distroless (glibc, CA certificates, no shell, no package manager) as a non-root user.
#
#   docker build -t ghcr.io/mcpsync/mcpsync:0.1.0 .
#
# The Helm chart runs it with a read-only root file system, all capabilities dropped and
# the RuntimeDefault seccomp profile; it writes nothing to disk.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && printf 'fn main() {}\n' > benches/sim_throughput.rs && cp benches/sim_throughput.rs benches/drift_check.rs \
    && cargo build --release --locked --bin mcpsync \
    && rm -rf src benches
COPY src ./src
COPY benches ./benches
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin mcpsync \
    && strip target/release/mcpsync

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/mcpsync /mcpsync
# 65532: distroless "nonroot"; numeric, so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/mcpsync"]
CMD ["run"]
