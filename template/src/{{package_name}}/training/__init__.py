"""Training, evaluation, export and MLflow tracking."""
