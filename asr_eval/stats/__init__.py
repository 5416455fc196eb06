"""Statistics over per-utterance count records: metrics, speaker bootstrap, paired tests.

``metrics`` defines what each metric is (a rate of summed ``Counts``),
``bootstrap`` the speaker-level bootstrap (group summaries, the gap between
groups, the correlation of gains), ``significance`` the paired comparison of two
conditions and the sc_stats-style tests. Callers use the names re-exported here
(``from asr_eval import stats as st``).
"""

from .bootstrap import (
    MIN_SPEAKERS,
    MIN_WORDS,
    Correlation,
    Estimate,
    GapResult,
    GroupStats,
    bootstrap_weights,
    gain_correlation,
    gain_correlation_matrices,
    group_gap,
    group_gap_matrices,
    record_vector,
    speaker_matrix,
    stable_seed,
    studentized_interval,
    summarize,
    summarize_matrix,
)
from .metrics import COUNT_FIELDS, HARM_METRICS, METRICS, PAIRED_METRICS, SEPARATE_FAMILY, Metric
from .significance import (
    EXACT_SIGN_FLIPS_MAX_N,
    NOT_SIGNIFICANT,
    SIGNIFICANT,
    SPEAKER_T,
    TOO_FEW_SPEAKERS,
    WILCOXON,
    WILCOXON_MIN_DIFFER,
    Decision,
    PairedCounts,
    PairedResult,
    SpeakerTests,
    _wilcoxon_sign_flips,  # tests/test_stats.py checks the exact enumeration against scipy
    decide,
    deciding_test,
    holm,
    mapsswe,
    mapsswe_segments,
    mapsswe_z,
    ZMoments,
    min_wilcoxon_p,
    paired_compare,
    paired_compare_counts,
    paired_counts,
    sign_test,
    speaker_t_test,
    speaker_tests,
    wilcoxon_min_differ,
    wilcoxon_rows,
    wilcoxon_test,
)

__all__ = [
    "COUNT_FIELDS", "EXACT_SIGN_FLIPS_MAX_N", "HARM_METRICS", "METRICS", "MIN_SPEAKERS", "MIN_WORDS", "NOT_SIGNIFICANT",
    "PAIRED_METRICS", "SEPARATE_FAMILY", "SIGNIFICANT", "SPEAKER_T", "TOO_FEW_SPEAKERS", "WILCOXON", "WILCOXON_MIN_DIFFER",
    "Correlation", "Decision", "Estimate", "GapResult", "GroupStats", "Metric", "PairedCounts", "PairedResult",
    "SpeakerTests", "decide", "deciding_test", "speaker_t_test", "speaker_tests", "wilcoxon_min_differ", "wilcoxon_rows",
    "bootstrap_weights", "gain_correlation", "gain_correlation_matrices", "group_gap", "group_gap_matrices", "holm",
    "mapsswe", "mapsswe_segments", "mapsswe_z", "ZMoments", "min_wilcoxon_p", "paired_compare", "paired_compare_counts",
    "paired_counts", "record_vector", "sign_test", "speaker_matrix", "stable_seed", "studentized_interval",
    "summarize", "summarize_matrix", "wilcoxon_test",
]
