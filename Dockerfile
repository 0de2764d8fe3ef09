# TiProxy for Java as a container image: `make docker` (scripts/docker-build.sh), or
#   docker build -t tiproxy-java .
# Run:
#   docker run -d --name tiproxy -p 6000:6000 -p 3080:3080 \
#     -v "$PWD/conf/proxy.yaml:/opt/tiproxy/conf/proxy.yaml:ro" --stop-timeout 60 tiproxy-java
# The config file is watched (mount its directory rather than the file if your tooling replaces files),
# and `docker stop` sends SIGTERM for a graceful shutdown: give it more than
# proxy.graceful-wait-before-shutdown + proxy.graceful-close-conn-timeout (Docker's default is 10 s).

FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml ./
RUN mvn -B -q dependency:go-offline
COPY src ./src
RUN mvn -B -q -DskipTests package

FROM eclipse-temurin:17-jre
RUN useradd --system --uid 10001 --home-dir /opt/tiproxy --shell /usr/sbin/nologin tiproxy
WORKDIR /opt/tiproxy
COPY bin/tiproxy bin/tiproxyctl bin/
COPY conf/proxy.yaml conf/proxy.yaml
COPY --from=build /src/target/tiproxy.jar lib/tiproxy.jar
USER tiproxy
# SQL (clients connect here) and the HTTP API with /metrics
EXPOSE 6000 3080
ENV TIPROXY_JAVA_OPTS="-XX:MaxRAMPercentage=75 -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError"
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s \
  CMD ["bin/tiproxyctl", "--timeout", "5s", "health"]
ENTRYPOINT ["bin/tiproxy"]
CMD ["--config", "conf/proxy.yaml"]
