# The DAG check hangar runs inside an image (`hangar check-dags`, `hangar build --check-dags`):
# every DAG file of the folder (argv[1], else [core] dags_folder) loaded the way the image's own
# Airflow loads it, one JSON line with the DAGs found and the import error of each broken file.
import json, os, sys
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
folder = sys.argv[1] if len(sys.argv) > 1 else None
if folder is None:
    from airflow.configuration import conf
    folder = conf.get("core", "dags_folder")
import inspect
kwargs = {"dag_folder": folder}
if "include_examples" in inspect.signature(DagBag.__init__).parameters:
    kwargs["include_examples"] = False
bag = DagBag(**kwargs)
rel = lambda p: os.path.relpath(p, folder)
print("HANGAR-DAG-CHECK " + json.dumps({
    "folder": folder,
    "dags": {d.dag_id: rel(d.fileloc) for d in bag.dags.values()},
    "errors": {rel(f): str(e) for f, e in bag.import_errors.items()},
}))
