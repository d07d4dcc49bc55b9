/**
 * A run's configuration: one YAML schema ({@link dev.lopper.jobs.config.ConfigKeys}, a table of typed
 * {@link dev.lopper.jobs.config.Key}s and the only place with defaults), overrides from the command
 * line, and the checked, immutable {@link dev.lopper.jobs.config.LopperConfig} every command takes.
 */
package dev.lopper.jobs.config;
