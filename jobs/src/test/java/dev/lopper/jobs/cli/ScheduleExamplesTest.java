package dev.lopper.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The scheduling examples in conf/ stay runnable: the crontab line is valid shell with five time
 * fields and Lopper arguments that parse, and the Airflow DAG builds (against stand-ins for
 * Airflow's classes) a SparkSubmitOperator for Lopper's main class with arguments that parse.
 */
class ScheduleExamplesTest {

  private static final Path CONF = Path.of("..", "conf");

  @Test
  void cronLineRunsLopperByDateAndAlertsOnExitThree() throws Exception {
    List<String> entries = Files.readAllLines(CONF.resolve("cron/lopper-nightly.cron")).stream()
        .filter(l -> l.matches("^[0-9*].*")).toList();
    assertEquals(1, entries.size(), entries.toString());
    String[] parts = entries.get(0).split(" +", 6);
    assertEquals("30 2 * * *", String.join(" ", Arrays.copyOf(parts, 5)));
    String command = parts[5];
    assertTrue(!command.contains("%"), "cron turns % into newlines");
    assertTrue(command.contains("\"$rc\" -eq 3"), command);
    Process bash = new ProcessBuilder("bash", "-n", "-c", command).redirectErrorStream(true).start();
    String out = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(bash.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, bash.exitValue(), out);

    String lopper = command.substring(command.indexOf("bin/lopper ") + "bin/lopper ".length(), command.indexOf(" >"));
    CommandLine line = CommandLine.parse(lopper.split(" "));
    assertEquals(Command.PRUNE, line.command());
    assertTrue(line.quiet());
    assertEquals(OutputFormat.JSON, line.format());
    assertTrue(lopper.contains("--set output.name-by-date=true"), lopper);
    assertTrue(Files.exists(CONF.getParent().resolve(line.configPath())), line.configPath());
  }

  /** Runs the DAG file with stand-ins for Airflow's DAG and SparkSubmitOperator, printing the operator's arguments. */
  private static final String STAND_INS = String.join("\n",
      "import json, sys, types",
      "captured = {}",
      "class DAG:",
      "    def __init__(self, **kw): captured['dag'] = {k: str(v) for k, v in kw.items()}",
      "    def __enter__(self): return self",
      "    def __exit__(self, *a): return False",
      "class SparkSubmitOperator:",
      "    def __init__(self, **kw): captured['operator'] = {k: v for k, v in kw.items() if not callable(v)}",
      "airflow = types.ModuleType('airflow'); airflow.DAG = DAG",
      "op = types.ModuleType('airflow.providers.apache.spark.operators.spark_submit')",
      "op.SparkSubmitOperator = SparkSubmitOperator",
      "sys.modules['airflow'] = airflow",
      "for name in ['airflow.providers', 'airflow.providers.apache', 'airflow.providers.apache.spark',",
      "             'airflow.providers.apache.spark.operators']:",
      "    sys.modules[name] = types.ModuleType(name)",
      "sys.modules['airflow.providers.apache.spark.operators.spark_submit'] = op",
      "exec(compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'), {'__name__': 'dag'})",
      "print(json.dumps(captured['operator'], default=str))");

  @Test
  void airflowDagSubmitsLopperWithArgumentsThatParse() throws Exception {
    Path python = Path.of("/usr/bin/python3");
    assumeTrue(Files.isExecutable(python), "no /usr/bin/python3");
    Process p = new ProcessBuilder(python.toString(), "-c", STAND_INS,
        CONF.resolve("airflow/lopper_nightly_dag.py").toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    JsonNode operator = new ObjectMapper().readTree(out);
    assertEquals(Lopper.class.getName(), operator.get("java_class").asText());
    assertTrue(operator.get("application").asText().endsWith("-all.jar"));
    assertEquals("client", operator.get("deploy_mode").asText());
    List<String> args = new ArrayList<>();
    operator.get("application_args").forEach(a -> args.add(a.asText()));
    CommandLine line = CommandLine.parse(args.toArray(String[]::new));
    assertEquals(Command.PRUNE, line.command());
    assertTrue(args.contains("output.name-by-date=true"), args.toString());
  }
}
