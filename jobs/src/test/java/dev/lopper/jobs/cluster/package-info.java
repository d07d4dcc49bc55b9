/**
 * A real Spark standalone cluster for tests: a master and workers on 127.0.0.1 whose executors run in
 * their own JVMs, started from the Spark jars on the test classpath ({@link
 * dev.lopper.jobs.cluster.StandaloneCluster}); applications submitted to it with SparkSubmit ({@link
 * dev.lopper.jobs.cluster.SubmittedApp}); and the build outputs they need ({@link
 * dev.lopper.jobs.cluster.BuildClasspath}, {@link dev.lopper.jobs.cluster.Jars}). The integration tests
 * here (*IT) run in Maven's integration-test phase, after the application jar is packaged.
 */
package dev.lopper.jobs.cluster;
