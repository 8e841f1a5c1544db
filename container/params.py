"""Every environment-variable name and default path the container reads, in one place."""
from __future__ import annotations

# SageMaker analyzer parameters (the processing job's Environment map).
DATASET_SOURCE = "dataset_source"
DATASET_FORMAT = "dataset_format"
OUTPUT_PATH = "output_path"
BASELINE_STATISTICS = "baseline_statistics"
BASELINE_CONSTRAINTS = "baseline_constraints"
START_TIME = "start_time"
END_TIME = "end_time"
METRIC_TIME = "metric_time"
PUBLISH_CLOUDWATCH_METRICS = "publish_cloudwatch_metrics"
SAGEMAKER_ENDPOINT_NAME = "sagemaker_endpoint_name"
SAGEMAKER_MONITORING_SCHEDULE_NAME = "sagemaker_monitoring_schedule_name"
RECORD_PREPROCESSOR_SCRIPT = "record_preprocessor_script"
POST_ANALYTICS_PROCESSOR_SCRIPT = "post_analytics_processor_script"
CATEGORICAL_DRIFT_METHOD = "categorical_drift_method"
EXCLUDE_FEATURES_ATTRIBUTE = "exclude_features_attribute"
ANALYSIS_TYPE = "analysis_type"
PROBLEM_TYPE = "problem_type"
INFERENCE_ATTRIBUTE = "inference_attribute"
PROBABILITY_ATTRIBUTE = "probability_attribute"
PROBABILITY_THRESHOLD_ATTRIBUTE = "probability_threshold_attribute"
GROUND_TRUTH_ATTRIBUTE = "ground_truth_attribute"
POSITIVE_LABEL = "positive_label"
GROUND_TRUTH_SOURCE = "ground_truth_source"  # set: the ground-truth merge job
CLOUDWATCH_METRICS_DIRECTORY = "CLOUDWATCH_METRICS_DIRECTORY"

ANALYZER_PARAMETERS = frozenset(
    {
        DATASET_SOURCE, DATASET_FORMAT, OUTPUT_PATH, BASELINE_STATISTICS, BASELINE_CONSTRAINTS,
        START_TIME, END_TIME, METRIC_TIME, PUBLISH_CLOUDWATCH_METRICS, SAGEMAKER_ENDPOINT_NAME,
        SAGEMAKER_MONITORING_SCHEDULE_NAME, RECORD_PREPROCESSOR_SCRIPT,
        POST_ANALYTICS_PROCESSOR_SCRIPT, CATEGORICAL_DRIFT_METHOD, EXCLUDE_FEATURES_ATTRIBUTE,
        ANALYSIS_TYPE, CLOUDWATCH_METRICS_DIRECTORY, PROBLEM_TYPE, INFERENCE_ATTRIBUTE,
        PROBABILITY_ATTRIBUTE, PROBABILITY_THRESHOLD_ATTRIBUTE, GROUND_TRUTH_ATTRIBUTE, POSITIVE_LABEL,
        GROUND_TRUTH_SOURCE,
    }
)

# Our own knobs (not SageMaker's).
BASE_DIR = "SAGEMAKER_BASE_DIR"  # relocates everything under /opt/ml
SPARK_MASTER = "MMON_SPARK_MASTER"  # set: run on Spark (spark://host:7077, yarn, local[*]); unset: no JVM
SPARK_CONF = "MMON_SPARK_CONF"  # JSON object of extra Spark settings
DRIVER_MEMORY = "MMON_DRIVER_MEMORY"  # Spark driver memory, e.g. 4g
CAPTURE_MAX_BAD_FRACTION = "MMON_CAPTURE_MAX_BAD_FRACTION"  # default 0.01
PUT_METRIC_DATA = "MMON_CLOUDWATCH_PUT_METRIC_DATA"  # Enabled: also call PutMetricData (outside SageMaker)
CLOUDWATCH_NAMESPACE = "MMON_CLOUDWATCH_NAMESPACE"
LOG_LEVEL = "MMON_LOG_LEVEL"
LOG_FORMAT = "MMON_LOG_FORMAT"  # "json" for one JSON object per line
THREADS = "MMON_THREADS"  # local driver: threads that profile columns (default: the CPU count)
PROGRESS = "MMON_PROGRESS"  # off: no progress bar or lines
REPORT = "MMON_REPORT"  # Disabled: no report.html beside the JSON reports
COMPARISON_METHOD = "MMON_COMPARISON_METHOD"  # baselining: Simple, Robust (default) or Calibrated

DEFAULT_BASE_DIR = "/opt/ml"
# Relative to the base dir.
PROCESSING_JOB_CONFIG = "config/processingjobconfig.json"
MESSAGE_FILE = "output/message"
DEFAULT_CLOUDWATCH_DIR = "output/metrics/cloudwatch"

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
REPORT_FILE = "report.html"
