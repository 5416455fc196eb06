"""asr-eval: transcription accuracy and custom-vocabulary testing across accent groups."""

__version__ = "0.1.0"
