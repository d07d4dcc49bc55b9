package dev.lopper.jobs.config;

/**
 * Settings of the model runtime inside tasks (keys {@code runtime.*}).
 *
 * @param threads ONNX Runtime intra-op threads per task; 0 for the cores Spark gives a task
 */
public record RuntimeConfig(int threads) {}
