"""An example DAG: two small tasks, run by hand (no schedule).

It imports on Airflow 3 (the Task SDK, ``airflow.sdk``) and on Airflow 2.10
(``airflow.decorators``), so the project works whichever version the image has.
"""

from __future__ import annotations

import datetime

try:  # Airflow 3
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task


@dag(
    dag_id="example_hangar",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    tags=["example"],
)
def example_hangar():
    @task
    def extract() -> list[int]:
        return [1, 2, 3]

    @task
    def total(values: list[int]) -> int:
        result = sum(values)
        print(f"total of {values} is {result}")
        return result

    total(extract())


example_hangar()
