package dev.ejazz.neo4j;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Transaction;

/**
 * Embedded Neo4j for dev/stack: one local DBMS with the Bolt connector on, auth off and a small page cache.
 *
 * <p>Usage: {@code Launcher <home-dir> <bolt-host:port>}. It runs until killed; SIGTERM (or SIGINT) shuts the
 * DBMS down cleanly through a shutdown hook. Development use only: no authentication, no TLS.
 */
public final class Launcher {
    private static final long PAGE_CACHE_BYTES = 64L * 1024 * 1024;

    private Launcher() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: Launcher <home-dir> <bolt-host:port>");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        SocketAddress bolt = parse(args[1]);

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, bolt)
                .setConfig(BoltConnector.advertised_address, bolt)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, PAGE_CACHE_BYTES)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "100M size")
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("ejazz-neo4j: shutting down");
            try {
                dbms.shutdown();
            } finally {
                stopped.countDown();
            }
            System.out.println("ejazz-neo4j: stopped");
        }, "ejazz-neo4j-shutdown"));

        // Touch the default database so the first client does not pay for its start-up.
        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        try (Transaction tx = db.beginTx()) {
            tx.execute("RETURN 1").close();
            tx.commit();
        }
        System.out.println("ejazz-neo4j: ready, bolt://" + bolt + ", home " + home);
        stopped.await();
    }

    private static SocketAddress parse(String hostPort) {
        int i = hostPort.lastIndexOf(':');
        if (i <= 0 || i == hostPort.length() - 1) {
            throw new IllegalArgumentException("expected host:port, got " + hostPort);
        }
        return new SocketAddress(hostPort.substring(0, i), Integer.parseInt(hostPort.substring(i + 1)));
    }
}
