"""The Spark engine for the data stages (params.yaml `engine: spark`).

collect, clean and featurize here produce what their pandas twins in `data/` and `features.py`
produce, from the same schema inference, the same checks and the same reasons, but the rows stay
with Spark's executors: the driver holds the schema, counts and one partition of quarantined rows at
a time. Training and serving read the same Parquet files and do not import Spark.
"""
