"""The analysis engine: pure of environment variables and files.

Public API: :class:`Profiler` and :func:`profile_batches` (Arrow record batches -> statistics),
:func:`suggest` (statistics -> constraints), :func:`analyzer.checks.validate` (current profile +
baseline -> violations), and the report model.
"""
from .dtypes import InferredType, TypeCounts
from .errors import AlgorithmError, AnalyzerError, InputError
from .model import Constraints, MonitoringConfig, Statistics, Violation
from .profile import DatasetProfile, ProfileOptions, Profiler, profile_batches, profile_table
from .suggest import suggest

__all__ = [
    "AlgorithmError",
    "AnalyzerError",
    "Constraints",
    "DatasetProfile",
    "InferredType",
    "InputError",
    "MonitoringConfig",
    "ProfileOptions",
    "Profiler",
    "Statistics",
    "TypeCounts",
    "Violation",
    "profile_batches",
    "profile_table",
    "suggest",
]
