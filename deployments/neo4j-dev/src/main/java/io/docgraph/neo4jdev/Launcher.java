package io.docgraph.neo4jdev;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Config;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Logging;
import org.neo4j.driver.exceptions.AuthenticationException;
import org.neo4j.io.ByteUnit;

/**
 * Runs a Neo4j community server for local development, tests and CI: the
 * embedded DatabaseManagementService with the Bolt connector listening on
 * one address, authentication on, and the password of the "neo4j" user set
 * from the environment.
 *
 * <pre>
 *   serve HOME HOST PORT   run until SIGTERM (the shutdown hook stops Neo4j cleanly)
 *   ping HOST PORT         exit 0 when a Cypher query over Bolt succeeds,
 *                          2 when Bolt answers but refuses the credentials,
 *                          1 otherwise
 * </pre>
 *
 * The password comes from NEO4J_PASSWORD (never from the command line, so
 * that it does not show in the process list); the user from NEO4J_USER
 * (ping only; the server's user is always "neo4j").
 */
public final class Launcher {
    private static final int EXIT_OK = 0;
    private static final int EXIT_FAIL = 1;
    private static final int EXIT_AUTH = 2;
    private static final int EXIT_USAGE = 64;

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.exit(usage());
        }
        switch (args[0]) {
            case "serve" -> {
                if (args.length != 4) {
                    System.exit(usage());
                }
                serve(Path.of(args[1]), args[2], Integer.parseInt(args[3]), password());
            }
            case "ping" -> {
                if (args.length != 3) {
                    System.exit(usage());
                }
                System.exit(ping(args[1], Integer.parseInt(args[2]), user(), password()));
            }
            default -> System.exit(usage());
        }
    }

    private static int usage() {
        System.err.println("usage: Launcher serve HOME HOST PORT | ping HOST PORT (password in NEO4J_PASSWORD)");
        return EXIT_USAGE;
    }

    private static String password() {
        String pw = System.getenv("NEO4J_PASSWORD");
        if (pw == null || pw.length() < 8) {
            System.err.println("neo4j-dev: NEO4J_PASSWORD must be set and at least 8 characters long");
            System.exit(EXIT_USAGE);
        }
        return pw;
    }

    private static String user() {
        String u = System.getenv("NEO4J_USER");
        return u == null || u.isEmpty() ? "neo4j" : u;
    }

    private static void serve(Path home, String host, int port, String password) throws InterruptedException {
        long started = System.nanoTime();
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(256))
                // Transaction logs: Neo4j keeps two days of them by default,
                // tens of GB after a few benchmark runs. A test server needs
                // only what recovery needs: checkpoint every minute, rotate at
                // 64 MiB, keep at most 128 MB of older logs.
                .setConfig(GraphDatabaseSettings.check_point_interval_time, Duration.ofMinutes(1))
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(64))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "128M size")
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("neo4j-dev: shutting down");
            dbms.shutdown();
            System.out.println("neo4j-dev: stopped");
            stopped.countDown();
        }, "neo4j-dev-shutdown"));

        try {
            setPassword(dbms, password);
        } catch (RuntimeException e) {
            System.err.println("neo4j-dev: set password: " + e.getMessage());
            System.exit(EXIT_FAIL); // runs the shutdown hook
        }
        System.out.printf("neo4j-dev: ready on bolt://%s:%d (%d ms)%n", host, port,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        stopped.await();
    }

    // The embedded server runs system commands without a login, so it can set
    // the password that Bolt clients must then present. Setting it to the
    // value it already has is refused by Neo4j, which is fine on a restart.
    private static void setPassword(DatabaseManagementService dbms, String password) {
        try {
            dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            if (messages(e).contains("cannot be the same")) {
                return;
            }
            throw e;
        }
    }

    private static String messages(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c.getMessage()).append('\n');
        }
        return sb.toString();
    }

    private static int ping(String host, int port, String user, String password) {
        Config cfg = Config.builder()
                .withoutEncryption()
                .withLogging(Logging.none())
                .withConnectionTimeout(3, TimeUnit.SECONDS)
                .withConnectionAcquisitionTimeout(5, TimeUnit.SECONDS)
                .build();
        try (Driver driver = GraphDatabase.driver("bolt://" + host + ":" + port, AuthTokens.basic(user, password), cfg)) {
            driver.executableQuery("RETURN 1 AS ok").execute();
            return EXIT_OK;
        } catch (AuthenticationException e) {
            System.err.println("neo4j-dev: bolt://" + host + ":" + port + " refused the credentials of user " + user);
            return EXIT_AUTH;
        } catch (RuntimeException e) {
            System.err.println("neo4j-dev: bolt://" + host + ":" + port + ": " + e.getMessage());
            return EXIT_FAIL;
        }
    }
}
