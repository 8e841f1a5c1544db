"""The analysis engine: pure of environment variables and files.

Public API: :func:`profile` (DataFrame -> statistics), :func:`suggest` (statistics ->
constraints), :func:`validate` (current profile + baseline -> violations), and the report model.
"""
from .dtypes import InferredType, TypeCounts
from .errors import AlgorithmError, AnalyzerError, InputError
from .model import Constraints, MonitoringConfig, Statistics, Violation
from .profile import DatasetProfile, ProfileOptions, profile
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
    "Statistics",
    "TypeCounts",
    "Violation",
    "profile",
    "suggest",
]
