"""``python -m asr_eval.cli``: the same app as the ``asr-eval`` script, for interpreters without it on PATH.

scripts/check_outputs_unchanged.py runs the CLI this way, so that PYTHONPATH picks the code under test.
"""

from . import main

if __name__ == "__main__":
    main()
