"""EDA profiling of Spark tables: statistics, inferred types and a data-quality score."""

from aurora_pipelines.profiling.profile import ColumnProfile, Profile, SemanticType, profile_table
from aurora_pipelines.profiling.report import write_profile_html, write_profile_json
from aurora_pipelines.profiling.sampling import SamplingInfo

__all__ = [
    "ColumnProfile",
    "Profile",
    "SamplingInfo",
    "SemanticType",
    "profile_table",
    "write_profile_html",
    "write_profile_json",
]
