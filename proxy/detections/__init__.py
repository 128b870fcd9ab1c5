"""Standing behavioural detections: alerts about what agents do over time, with their windows in the Store.

`settings` (the policy's `settings.detections`), `model` (observations and alerts), `fingerprint` (result
fingerprints and copies of them), `engine` (the queue, the worker and the detections).
"""
