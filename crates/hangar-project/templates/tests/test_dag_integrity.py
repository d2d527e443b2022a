"""Every file in dags/ imports, and at least one DAG is found.

Runs with ``python -m unittest discover -s tests`` and with ``pytest``, using the
Airflow that is installed (Airflow 2.10 or 3.x). Set AIRFLOW_HOME to a scratch
directory when running outside an image, so no real configuration is touched.
"""

from __future__ import annotations

import inspect
import unittest
from pathlib import Path

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"


def load_dagbag():
    try:  # Airflow 3
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models import DagBag

    # safe_mode=False: parse every .py file, not only those that mention "dag" and "airflow".
    options = {"dag_folder": str(DAGS_FOLDER), "safe_mode": False}
    # Airflow's example DAGs stay out; newer releases keep them out of a DagBag anyway and
    # no longer take the argument.
    if "include_examples" in inspect.signature(DagBag).parameters:
        options["include_examples"] = False
    return DagBag(**options)


def relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(DAGS_FOLDER.parent))
    except ValueError:
        return path


class DagIntegrityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dagbag = load_dagbag()

    def test_every_dag_file_imports(self):
        errors = self.dagbag.import_errors
        if errors:
            report = "\n\n".join(
                f"{relative(path)}:\n{error}" for path, error in sorted(errors.items())
            )
            self.fail(f"{len(errors)} DAG file(s) failed to import:\n\n{report}")

    def test_at_least_one_dag_is_found(self):
        self.assertTrue(self.dagbag.dags, f"no DAG found in {DAGS_FOLDER}")


if __name__ == "__main__":
    unittest.main()
