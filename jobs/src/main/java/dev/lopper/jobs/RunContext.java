package dev.lopper.jobs;

import dev.lopper.io.CsvTables;
import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import dev.lopper.jobs.output.Checkpoint;
import dev.lopper.jobs.output.InputFile;
import dev.lopper.jobs.output.RunDirectory;
import dev.lopper.jobs.output.StageTimings;
import java.util.List;
import java.util.Optional;

/**
 * What a run's stages get besides the session and configuration.
 *
 * @param directory where to write outputs ({@link RunDirectory#file})
 * @param timings record each stage's duration here; they go into the manifest
 * @param inputs the model, weights and data with their checksums (e.g. for an executor-side cache key)
 * @param checkpoint where steps commit their finished units and find those of an interrupted run
 */
public record RunContext(RunDirectory directory, StageTimings timings, List<InputFile> inputs,
    Checkpoint checkpoint) {

  public RunContext {
    inputs = List.copyOf(inputs);
  }

  /** A run context without a checkpoint. */
  public RunContext(RunDirectory directory, StageTimings timings, List<InputFile> inputs) {
    this(directory, timings, inputs, Checkpoint.off());
  }

  /** The input with role {@code model}, {@code weights} or {@code data}, if present. */
  public Optional<InputFile> input(String role) {
    return inputs.stream().filter(i -> i.role().equals(role)).findFirst();
  }

  /** Writes {@code table} into the run directory as {@code <name>.parquet} and {@code <name>.csv}. */
  public void writeTable(String name, Table table) {
    ParquetTables.write(table, directory.file(name + ".parquet"), directory.conf());
    CsvTables.write(table, directory.file(name + ".csv"), directory.conf());
  }
}
