"""Detection benchmark: a labelled corpus from third-party sources and our own cases, scanned with
the content detectors; recall and false-positive rate per detector family and surface, and speed.

    python -m bench.detection [--quick] [--no-download]
"""
