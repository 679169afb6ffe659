"""Time-series prediction: yearly sunspots (default) and weekly Mauna Loa CO2.

Built-in source: ``statsmodels.datasets`` (public domain): sunspots 1700-2008 (309 yearly
values, an ~11-year cycle: season 11) and CO2 1958-2001 (2,284 weekly values, 59 missing
filled by linear interpolation; season 52). Chronological 80/10/10 splits per series.
"""

from __future__ import annotations

from datasets import DatasetDict

from hf_rnn.comparison.goals import Goal
from hf_rnn.comparison.profiles import Profile
from hf_rnn.tasks.generation_kinds import ForecastingTask, series_splits


class TimeSeriesTask(ForecastingTask):
    name = "timeseries"
    description = "Yearly sunspot numbers (and weekly CO2) → the next value"
    source_note = "statsmodels.datasets sunspots and co2 (public domain)"
    title = "Time series"
    default_models = ("lstm", "mamba2", "smollm2-patch", "smollm2")  # the LLM on patches of values, and on digit strings
    goals = (Goal("rnn", "mae", "<=", "seasonal-naive"), Goal("llm", "mae", "<=", "seasonal-naive"),
             Goal("mamba2", "mae", "<=", "seasonal-naive"))
    profiles = {
        # the LSTM converges in seconds; the LLM needs minutes just to learn the answer format
        # (60 s: 17 steps, MAE 64; 180 s: 64 steps, MAE 55; the seasonal-naive forecast: 26)
        "quick": Profile("quick", 180, None, None, None, 40),
        "full": Profile("full", 600, None, None, None, 50),
    }
    app_quick_train = ("rnn", ())

    @classmethod
    def prepare_builtin(cls) -> DatasetDict:
        from statsmodels.datasets import co2, sunspots

        spots = sunspots.load_pandas().data["SUNACTIVITY"].astype(float).tolist()
        carbon = co2.load_pandas().data["co2"].interpolate(limit_direction="both").astype(float).tolist()
        return series_splits({"sunspots": spots, "co2": carbon}, {"sunspots": 11, "co2": 52})

    def __init__(self, dataset, source="builtin", **options):
        if "context_length" not in options and options.get("series") == "co2":
            options["context_length"] = 52
        super().__init__(dataset, source, **options)
