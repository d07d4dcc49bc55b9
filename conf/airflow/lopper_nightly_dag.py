"""Lopper nightly on Airflow: prune the model every night with spark-submit and fail the task when
the quality gate fails.

Each run goes into its own directory named by date under RUNS (output.name-by-date), and its
report.html and manifest.json show the change from the previous night. Lopper exits with code 3
when the pruned model's verified drop exceeds gate.max-drop; spark-submit returns the driver's exit
code in client deploy mode, and SparkSubmitOperator fails the task on any non-zero code
("... Error code is: 3."). The failure callback below tells a failed gate apart from other errors.
Gate failures are deterministic, so the task is not retried.

Needs the apache-airflow-providers-apache-spark package and a Spark connection (conn_id) whose
master is the cluster; the fat jar and the configuration must be readable by spark-submit.
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

LOPPER_JAR = "/opt/lopper/jobs/target/lopper-jobs-0.1.0-SNAPSHOT-all.jar"
CONFIG = "hdfs:///lopper/conf/digits-cnn.yaml"
RUNS = "hdfs:///lopper/runs/digits-cnn-nightly"
GATE_FAILED = 3  # Lopper's exit code for a failed quality gate


def alert(context):
    """Called when the task fails: a failed gate (exit 3) is a model problem, anything else an incident."""
    message = str(context.get("exception"))
    if f"Error code is: {GATE_FAILED}." in message:
        print(f"Lopper nightly: the quality gate FAILED; see the latest run's report.html under {RUNS}")
    else:
        print(f"Lopper nightly: the run failed: {message}")
    # Replace the prints with your alerting (Slack, e-mail, PagerDuty) as needed.


with DAG(
    dag_id="lopper_nightly",
    description="Prune the model nightly on Spark with Lopper; fails when the quality gate fails",
    start_date=datetime(2026, 1, 1),
    schedule="30 2 * * *",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0, "on_failure_callback": alert},
    tags=["lopper", "pruning"],
) as dag:
    prune = SparkSubmitOperator(
        task_id="prune",
        conn_id="spark_default",
        application=LOPPER_JAR,
        java_class="dev.lopper.jobs.cli.Lopper",
        application_args=[
            "prune",
            "--config", CONFIG,
            "--out", RUNS,
            "--set", "output.name-by-date=true",
            "--quiet",
        ],
        deploy_mode="client",  # the driver's exit code (3 for a failed gate) becomes spark-submit's
        conf={"spark.executorEnv.OMP_NUM_THREADS": "1"},
        name="lopper-nightly",
        execution_timeout=timedelta(hours=6),
    )
