# TiProxy for Java. `make` builds target/tiproxy.jar; `make test` runs every test; `make demo` starts
# three MariaDB servers and the proxy in front of them.
.PHONY: build test demo clean docker

build:
	mvn -B -q -DskipTests package

test:
	./scripts/test.sh

demo:
	./scripts/demo.sh

clean:
	mvn -B -q clean

# fails with a clear message where no Docker engine runs (as on the project's build machines)
docker:
	./scripts/docker-build.sh
