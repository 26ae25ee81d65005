"""Reports written from the pipeline's outputs."""
