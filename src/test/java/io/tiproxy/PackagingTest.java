package io.tiproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiproxy.testkit.Commands;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Dockerfile, its build script and the systemd unit refer to what the build really produces. */
class PackagingTest {
    private static final Path SCRIPT = Path.of("scripts/docker-build.sh").toAbsolutePath();

    @TempDir
    Path tmp;

    private static Commands.Result runScript(String path) {
        return Commands.run(List.of("env", "PATH=" + path, "/bin/bash", SCRIPT.toString()), null, Duration.ofSeconds(30));
    }

    @Test
    void dockerBuildSaysClearlyWhenTheDockerCommandIsMissing() {
        Commands.Result result = runScript(tmp.toString() + ":/usr/bin:/bin");

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.output()).startsWith("make docker: the docker command is not installed here");
    }

    @Test
    void dockerBuildSaysClearlyWhenNoEngineRuns() throws Exception {
        Path fakeDocker = tmp.resolve("docker");
        Files.writeString(fakeDocker, "#!/bin/sh\n[ \"$1\" = info ] && { echo 'Cannot connect to the Docker daemon' >&2; exit 1; }\n"
                + "echo \"unexpected: docker $*\"; exit 0\n");
        Files.setPosixFilePermissions(fakeDocker, PosixFilePermissions.fromString("rwxr-xr-x"));

        Commands.Result result = runScript(tmp + ":/usr/bin:/bin");

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.output()).startsWith("make docker: no Docker engine is running here").doesNotContain("unexpected");
    }

    @Test
    void dockerfileCopiesFilesThatExistAndTheJarTheBuildMakes() throws Exception {
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        Matcher copy = Pattern.compile("(?m)^COPY (?!--from)(.+) \\S+$").matcher(dockerfile);
        int sources = 0;
        while (copy.find()) {
            for (String source : copy.group(1).trim().split("\\s+")) {
                assertThat(Path.of(source)).as("COPY source").exists();
                sources++;
            }
        }
        assertThat(sources).isGreaterThanOrEqualTo(4);
        assertThat(dockerfile).contains("COPY --from=build /src/target/tiproxy.jar lib/tiproxy.jar");
        assertThat(Files.readString(Path.of("pom.xml"))).contains("<finalName>tiproxy</finalName>");
        // bin/tiproxy runs lib/tiproxy.jar in an installed tree (no pom.xml next to bin/)
        assertThat(Files.readString(Path.of("bin/tiproxy"))).contains("$home/lib/tiproxy.jar");
    }

    @Test
    void systemdUnitPassesSystemdAnalyzeApartFromTheInstallPath() {
        Path analyze = Path.of("/usr/bin/systemd-analyze");
        Assumptions.assumeTrue(Files.isExecutable(analyze), "systemd-analyze is not installed");
        Commands.Result result = Commands.run(List.of(analyze.toString(), "verify", "--man=no",
                Path.of("deploy/systemd/tiproxy.service").toAbsolutePath().toString()), null, Duration.ofSeconds(30));

        List<String> problems = result.output().lines()
                .filter(line -> !line.contains("/opt/tiproxy/bin/tiproxy is not executable")).toList();
        assertThat(problems).as(result.output()).isEmpty();
    }
}
