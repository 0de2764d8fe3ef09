package io.tiproxy.cli;

import picocli.CommandLine;

/** Reads the version from the jar manifest (Implementation-Version). */
public final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = VersionProvider.class.getPackage().getImplementationVersion();
        return new String[] {"tiproxy " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
    }
}
