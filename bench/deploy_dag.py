"""The DAG of bench/deploy.sh: one task, run once as soon as the scheduler has the DAG."""

from datetime import datetime

from airflow.sdk import dag, task


@task
def hello() -> str:
    return "hello"


@dag(schedule="@once", start_date=datetime(2024, 1, 1), catchup=False, is_paused_upon_creation=False)
def bench_deploy():
    hello()


bench_deploy()
