package io.tiproxy.manager.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What the certificate files look like on disk, cheaply: modification time, size and file identity
 * (inode) of each, following symbolic links. A renewal that rewrites a file in place changes its time
 * or size; one that swaps a file or a symlink (cert-manager, Kubernetes secret volumes) changes its
 * identity. Comparing two stamps never reads a file.
 */
record FileStamps(List<Stamp> files) {

    /** One file: {@code exists} false when it could not be read (then the other fields are zero). */
    record Stamp(String path, boolean exists, long modifiedNanos, long size, Object fileKey) {
    }

    FileStamps {
        files = List.copyOf(files);
    }

    /** Stamps for the non-empty paths among {@code paths}. */
    static FileStamps of(List<String> paths) {
        List<Stamp> stamps = new ArrayList<>();
        for (String path : paths) {
            if (!path.isEmpty()) {
                stamps.add(stamp(path));
            }
        }
        return new FileStamps(stamps);
    }

    private static Stamp stamp(String path) {
        try {
            BasicFileAttributes a = Files.readAttributes(Path.of(path), BasicFileAttributes.class);
            return new Stamp(path, true, a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS),
                    a.size(), Objects.requireNonNullElse(a.fileKey(), ""));
        } catch (IOException | RuntimeException e) {
            return new Stamp(path, false, 0, 0, "");
        }
    }
}
