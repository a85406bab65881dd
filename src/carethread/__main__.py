"""``python -m carethread``: the command line, also as a file ``spark-submit`` can run.

``spark-submit`` runs Python files, not console scripts, so a cluster run is
``spark-submit --master spark://host:7077 $(python -c 'import carethread.__main__ as m;
print(m.__file__)') patients data/ --engine spark`` (docs/spark.md).
"""

from carethread.cli import app

if __name__ == "__main__":
    app(prog_name="carethread")
