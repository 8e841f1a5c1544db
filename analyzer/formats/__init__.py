"""One module per file format: report model <-> JSON-ready dicts (SageMaker's field names)."""
