"""The aggregation pipeline: MongoDB stages and expressions, run in memory or pushed to SQL."""

from .engine import Fetch, Pipeline, compile_pipeline
from .stages import STAGES

__all__ = ["STAGES", "Fetch", "Pipeline", "compile_pipeline"]
