import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordingFile;

/**
 * Hot methods of a JFR recording (JDK 17's {@code jfr} has no "view hot-methods"): aggregates the
 * jdk.ExecutionSample events (threads running Java code; time spent inside system calls made from
 * native code is not in them) by top frame ("self") and by every distinct method on the stack
 * ("total"), plus samples per thread and allocation pressure (jdk.ObjectAllocationSample).
 *
 * <pre>java -cp bench/.work/classes JfrHot recording.jfr [top=25] [--thread-prefix tiproxy-io]</pre>
 */
public final class JfrHot {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: JfrHot recording.jfr [top] [--thread-prefix P]");
            System.exit(2);
        }
        Path file = Path.of(args[0]);
        int top = 25;
        String threadPrefix = null;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--thread-prefix") && i + 1 < args.length) {
                threadPrefix = args[++i];
            } else {
                top = Integer.parseInt(args[i]);
            }
        }
        Map<String, Long> self = new HashMap<>();
        Map<String, Long> total = new HashMap<>();
        Map<String, Long> selfPackage = new HashMap<>();
        Map<String, Long> threads = new HashMap<>();
        Map<String, Long> allocByClass = new HashMap<>();
        Map<String, Long> allocBySite = new HashMap<>();
        long samples = 0;
        long allocTotal = 0;
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        for (RecordedEvent e : events) {
            String type = e.getEventType().getName();
            if (type.equals("jdk.ExecutionSample")) {
                String thread = e.getThread("sampledThread") == null ? "?" : e.getThread("sampledThread").getJavaName();
                if (threadPrefix != null && (thread == null || !thread.startsWith(threadPrefix))) {
                    continue;
                }
                if (e.getStackTrace() == null || e.getStackTrace().getFrames().isEmpty()) {
                    continue;
                }
                samples++;
                threads.merge(threadGroup(thread), 1L, Long::sum);
                List<RecordedFrame> frames = e.getStackTrace().getFrames();
                String topName = name(frames.get(0).getMethod());
                self.merge(topName, 1L, Long::sum);
                selfPackage.merge(pkg(frames.get(0).getMethod()), 1L, Long::sum);
                Set<String> seen = new HashSet<>();
                for (RecordedFrame f : frames) {
                    String n = name(f.getMethod());
                    if (seen.add(n)) {
                        total.merge(n, 1L, Long::sum);
                    }
                }
            } else if (type.equals("jdk.ObjectAllocationSample")) {
                if (isJfrItself(e)) {
                    continue; // the recorder's own allocations (string pools, attach) are not the proxy's
                }
                long w = e.getLong("weight");
                allocTotal += w;
                String cls = e.getClass("objectClass") == null ? "?" : e.getClass("objectClass").getName();
                allocByClass.merge(cls, w, Long::sum);
                if (e.getStackTrace() != null && !e.getStackTrace().getFrames().isEmpty()) {
                    // first frame outside java.*/jdk.* = the allocating site in netty or tiproxy code
                    String site = null;
                    for (RecordedFrame f : e.getStackTrace().getFrames()) {
                        String n = name(f.getMethod());
                        if (!n.startsWith("java.") && !n.startsWith("jdk.") && !n.startsWith("sun.")) {
                            site = n;
                            break;
                        }
                    }
                    allocBySite.merge(site == null ? name(e.getStackTrace().getFrames().get(0).getMethod()) : site, w, Long::sum);
                }
            }
        }
        System.out.printf(Locale.ROOT, "%d execution samples%s%n", samples,
                threadPrefix == null ? "" : " on threads " + threadPrefix + "*");
        print("samples per thread", threads, samples, 10);
        print("hot methods, self (top frame)", self, samples, top);
        print("self time by package", selfPackage, samples, 15);
        print("hot methods, total (on the stack)", total, samples, top);
        if (allocTotal > 0) {
            System.out.printf(Locale.ROOT, "%nallocation (jdk.ObjectAllocationSample), estimated total %.1f MB%n", allocTotal / 1e6);
            print("allocated bytes by class", allocByClass, allocTotal, 12);
            print("allocated bytes by first non-JDK frame", allocBySite, allocTotal, 12);
        }
    }

    private static boolean isJfrItself(RecordedEvent e) {
        if (e.getStackTrace() == null) {
            return false;
        }
        for (RecordedFrame f : e.getStackTrace().getFrames()) {
            if (f.getMethod() != null && f.getMethod().getType().getName().startsWith("jdk.jfr.")) {
                return true;
            }
        }
        return false;
    }

    private static String threadGroup(String thread) {
        if (thread == null) {
            return "?";
        }
        return thread.replaceAll("-\\d+(-\\d+)?$", "-N");
    }

    private static String name(RecordedMethod m) {
        if (m == null) {
            return "?";
        }
        return m.getType().getName() + "." + m.getName();
    }

    private static String pkg(RecordedMethod m) {
        if (m == null) {
            return "?";
        }
        String t = m.getType().getName();
        int i = t.lastIndexOf('.');
        return i < 0 ? t : t.substring(0, i);
    }

    private static void print(String title, Map<String, Long> counts, long total, int top) {
        System.out.printf(Locale.ROOT, "%n%s:%n", title);
        counts.entrySet().stream()
                .sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
                .limit(top)
                .forEach(en -> System.out.printf(Locale.ROOT, "  %5.1f%%  %s%n",
                        100.0 * en.getValue() / Math.max(1, total), en.getKey()));
    }
}
