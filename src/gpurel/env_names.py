"""The environment variables gpurel reads for its warehouse and engine (a light module: the
command line names them in its help without importing an engine)."""

WAREHOUSE = "GPUREL_WAREHOUSE"
ENGINE = "GPUREL_ENGINE"
