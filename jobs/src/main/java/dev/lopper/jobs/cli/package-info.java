/**
 * The command line: {@link dev.lopper.jobs.cli.Lopper} parses arguments, loads and checks the
 * configuration before Spark starts, runs a command through {@link dev.lopper.jobs.RunStages} and
 * maps the result to an {@link dev.lopper.jobs.cli.ExitCode}.
 */
package dev.lopper.jobs.cli;
